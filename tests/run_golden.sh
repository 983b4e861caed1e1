#!/bin/sh
# run_golden.sh — golden tests: each input beside its expected output.
#
#   tests/errors/NAME.nn   `nnc --emit=ir` must exit 1, stderr == NAME.err
#   tests/ir/NAME.nn       `nnc --emit=ir` must exit 0, stdout == NAME.ir
#
# Runs from the source root so that file names in messages read tests/...;
# NNC names the compiler (default: build/compiler/nnc), SRCDIR the source
# root (default: this script's parent directory). UPDATE=1 rewrites the
# expected files from what nnc prints now. Prints one FAIL line (with a diff)
# per failure and ends with `N passed, N failed`; exits 1 on any failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
test_setup golden "$(dirname "$here")"
cd "$SRCDIR" || exit 2

# check_case FILE WANT_STATUS STREAM EXPECTED
#   STREAM is the output compared: out or err.
check_case() {
  f=$1 want=$2 stream=$3 exp=$4
  "$NNC" --emit=ir "$f" >"$tmp/out" 2>"$tmp/err"
  st=$?
  if [ "${UPDATE:-0}" = 1 ] && [ "$st" = "$want" ]; then
    cp "$tmp/$stream" "$exp"
  fi
  if [ "$st" != "$want" ]; then
    echo "FAIL: $f: exit status $st, expected $want"
    sed -e 's/^/  | /' "$tmp/err" | head -n 20
    fail=$((fail + 1))
  elif [ ! -f "$exp" ]; then
    echo "FAIL: $f: no expected output $exp (run with UPDATE=1 to create it)"
    fail=$((fail + 1))
  elif ! cmp -s "$exp" "$tmp/$stream"; then
    echo "FAIL: $f: output differs from $exp"
    diff -u "$exp" "$tmp/$stream" | sed -e "s|$tmp/$stream|actual|" | head -n 60
    fail=$((fail + 1))
  else
    pass=$((pass + 1))
  fi
}

for f in tests/errors/*.nn; do
  [ -e "$f" ] || continue
  check_case "$f" 1 err "${f%.nn}.err"
done
for f in tests/ir/*.nn; do
  [ -e "$f" ] || continue
  check_case "$f" 0 out "${f%.nn}.ir"
done

test_finish
