#!/bin/sh
# run_conformance.sh — every model of tests/conformance/models.py against
# PyTorch (compare.py): logits, loss, every gradient, input gradients and
# optimizer steps within 1e-4. Ends with `N passed, N failed`.
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
models=$("$PY" -c "import sys; sys.path.insert(0, '$here'); from models import MODELS; print(' '.join(MODELS))")
for m in $models; do
  "$PY" "$here/compare.py" "$m" "$tmp/$m" 2>&1
done >"$tmp/log"
cat "$tmp/log"
pass=$(grep -c '^PASS' "$tmp/log")
fail=$(grep -c '^FAIL' "$tmp/log")
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
