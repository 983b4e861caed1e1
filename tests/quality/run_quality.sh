#!/bin/sh
# run_quality.sh — the MLP's quality bar: `nnc train examples/mlp.nn` for 5
# epochs reaches at least 88% test accuracy on Fashion-MNIST, and PyTorch
# trained with the same configuration from the same initial weights lands
# within 0.5 points of it. Needs the dataset-fashion-mnist and python3-torch
# packages (skipped without them) and runs in the plain build only (under
# the sanitizers training takes minutes). Ends with `N passed, N failed`.
set -u
here=$(cd "$(dirname "$0")" && pwd)
SRCDIR=${SRCDIR:-$(dirname "$(dirname "$here")")}
NNC=${NNC:-$SRCDIR/build/compiler/nnc}
DATA=${NNC_DATA:-/usr/share/datasets/fashion-mnist}
PY=/usr/bin/python3
skip() {
  echo "SKIP: $1"
  echo "0 passed, 0 failed, 1 skipped"
  exit 77
}
case "${CFLAGS:-}" in *sanitize*) skip "sanitizer build" ;; esac
[ -f "$DATA/train-images-idx3-ubyte.gz" ] || skip "Fashion-MNIST is not installed"
"$PY" -c 'import torch' 2>/dev/null || skip "python3-torch is not installed"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-quality.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
pass=0
fail=0

"$NNC" train "$SRCDIR/examples/mlp.nn" --epochs 5 --seed 42 --quiet \
  --build-dir "$tmp/build" --out "$tmp/out" >"$tmp/nnc.log" 2>&1
ours=$(sed -n 's/^test accuracy: \([0-9.]*\)$/\1/p' "$tmp/nnc.log" | tail -n 1)
if [ -n "$ours" ] && awk "BEGIN { exit !($ours >= 0.88) }"; then
  echo "PASS: nnc test accuracy $ours (at least 0.88)"
  pass=$((pass + 1))
else
  echo "FAIL: nnc test accuracy '${ours:-none}' (at least 0.88)"
  tail -n 20 "$tmp/nnc.log" | sed 's/^/  | /'
  fail=$((fail + 1))
fi

# the same initial weights: the model initialised with the same seed
"$NNC" "$SRCDIR/examples/mlp.nn" -o "$tmp/mlp.c" &&
  ${CC:-cc} -std=c99 -O2 -I "${RUNTIME_INC:-$SRCDIR/runtime}" -DMODEL_DESC=mlp_desc \
    -include "$tmp/mlp.h" "$tmp/mlp.c" "$SRCDIR/tests/conformance/driver.c" \
    "${NNCRT:-$SRCDIR/build/runtime/libnncrt.a}" ${NNCRT_LIBS:--lopenblas -lz -lm} \
    -o "$tmp/driver" && "$tmp/driver" init 42 "$tmp/w.st" || exit 1
theirs=$("$PY" "$here/mlp_pytorch.py" "$tmp/w.st" "$DATA" 5 | sed -n 's/^pytorch test accuracy: //p')
if [ -n "$theirs" ] && [ -n "$ours" ] &&
  awk "BEGIN { d = $ours - $theirs; if (d < 0) d = -d; exit !(d <= 0.005) }"; then
  echo "PASS: PyTorch test accuracy $theirs, within 0.5 points of nnc's $ours"
  pass=$((pass + 1))
else
  echo "FAIL: PyTorch test accuracy '${theirs:-none}' against nnc's '${ours:-none}'"
  fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
