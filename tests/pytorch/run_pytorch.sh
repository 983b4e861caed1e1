#!/bin/sh
# run_pytorch.sh — the standard layers have PyTorch's parameter names,
# shapes and layouts: compares the param/buffer lines nnc prints for
# tests/pytorch/layers.nn with the state_dict of its PyTorch twin. Skipped
# (and counted as such) only where python3-torch is not installed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
SRCDIR=${SRCDIR:-$(dirname "$(dirname "$here")")}
NNC=${NNC:-$SRCDIR/build/compiler/nnc}
PY=/usr/bin/python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-torch.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT HUP INT TERM

if ! "$PY" -c 'import torch' 2>/dev/null; then
  echo "SKIP: python3-torch is not installed"
  echo "0 passed, 0 failed, 1 skipped"
  exit 77
fi
"$NNC" --emit=ir "$SRCDIR/tests/pytorch/layers.nn" >"$tmp/ir" || {
  echo "FAIL: nnc --emit=ir tests/pytorch/layers.nn"
  echo "0 passed, 1 failed"
  exit 1
}
# `  param fc.weight : f32[30,20] ...` -> `fc.weight 30x20`
sed -n 's/^  \(param\|buffer\) \([^ ]*\) : [a-z0-9]*\[\([^]]*\)\].*/\2 \3/p' "$tmp/ir" |
  sed 's/,/x/g; s/ $/ scalar/' | sort >"$tmp/nnc"
"$PY" "$SRCDIR/tests/pytorch/layers.py" | sort >"$tmp/torch"
pass=0 fail=0
if diff -u "$tmp/torch" "$tmp/nnc" >"$tmp/diff"; then
  pass=1
  echo "PASS: $(wc -l <"$tmp/nnc") parameters and buffers match PyTorch"
else
  fail=1
  echo "FAIL: parameters differ from PyTorch (- torch, + nnc):"
  sed 's/^/  /' "$tmp/diff"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
