#!/bin/sh
# run_conformance.sh — every spec of tests/conformance/models.py against
# PyTorch (compare.py): the example models (results, loss, every gradient,
# input gradients, batch-norm buffers, the eval forward after a step,
# optimizer steps) and the op cases of ops.nn, two at a time. Ends with
# `N passed, N failed`.
set -u
here=$(cd "$(dirname "$0")" && pwd)
SRCDIR=${SRCDIR:-$(dirname "$(dirname "$here")")}
export SRCDIR
PY=/usr/bin/python3
if ! "$PY" -c 'import torch' 2>/dev/null; then
  echo "SKIP: python3-torch is not installed"
  echo "0 passed, 0 failed, 1 skipped"
  exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-conformance.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
models=$(cd "$here" && "$PY" -c "from models import MODELS; print(' '.join(MODELS))") || exit 2
# the slowest first, so that the two lanes end together
order=$(for m in ops resnet cnn_bn $models; do echo "$m"; done | awk '!seen[$0]++' |
  while read -r m; do case " $models " in *" $m "*) echo "$m" ;; esac; done)
echo "$order" | PY=$PY here=$here tmp=$tmp xargs -P 2 -I{} sh -c \
  '"$PY" "$here/compare.py" {} "$tmp/{}" >"$tmp/{}.log" 2>&1 || echo "FAIL: {}: compare.py exited with $?" >>"$tmp/{}.log"'
for m in $models; do cat "$tmp/$m.log"; done >"$tmp/log"
cat "$tmp/log"
pass=$(grep -c '^PASS' "$tmp/log")
fail=$(grep -c '^FAIL' "$tmp/log")
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
