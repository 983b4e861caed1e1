#!/bin/sh
# run_checkc.sh — tests for nnc-checkc: each tests/checkc/NAME.c is checked
# against its NAME.h with the runtime header on the include path.
#
#   no `// expect:` line   nnc-checkc must exit 0 and print its ok line
#   `// expect: LINE`      nnc-checkc must exit 1 and print each LINE exactly
#
# Also checks usage errors (exit 2). Runs from the source root so that file
# names in messages read tests/checkc/...; NNC_CHECKC names the tool (default:
# build/tools/nnc-checkc), SRCDIR the source root (default: this script's
# grandparent directory). Prints one FAIL line (with the output) per failure
# and ends with `N passed, N failed`; exits 1 on any failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../common.sh"
test_setup checkc "$(dirname "$(dirname "$here")")"
NNC_CHECKC=${NNC_CHECKC:-$SRCDIR/build/tools/nnc-checkc}
case $NNC_CHECKC in /*) ;; *) NNC_CHECKC=$(pwd)/$NNC_CHECKC ;; esac
cd "$SRCDIR" || exit 2
if [ ! -x "$NNC_CHECKC" ]; then
  echo "run_checkc: nnc-checkc not found: $NNC_CHECKC" >&2
  exit 2
fi

bad() {
  echo "FAIL: $1"
  sed -e 's/^/  | /' "$tmp/out" | head -n 20
  fail=$((fail + 1))
}

# run WANT_STATUS ARGS...: runs the tool into $tmp/out; 0 when the status is
# WANT_STATUS, else reports the failure.
run() {
  wst=$1
  shift
  "$NNC_CHECKC" "$@" >"$tmp/out" 2>&1
  st=$?
  [ "$st" = "$wst" ] && return 0
  bad "nnc-checkc $*: exit status $st, expected $wst"
  return 1
}

for f in tests/checkc/*.c; do
  [ -e "$f" ] || continue
  sed -n 's|^// expect: ||p' "$f" >"$tmp/want"
  if [ ! -s "$tmp/want" ]; then
    run 0 -I runtime "$f" || continue
    if grep -q "^nnc-checkc: $f: ok (" "$tmp/out"; then
      pass=$((pass + 1))
    else
      bad "$f: no ok line"
    fi
    continue
  fi
  run 1 -I runtime "$f" || continue
  missing=0
  while IFS= read -r line; do
    if ! grep -F -x -q -e "$line" "$tmp/out"; then
      echo "FAIL: $f: expected the line: $line"
      missing=1
    fi
  done <"$tmp/want"
  if [ "$missing" = 0 ]; then
    pass=$((pass + 1))
  else
    sed -e 's/^/  | /' "$tmp/out" | head -n 20
    fail=$((fail + 1))
  fi
done

# Usage errors and unreadable input exit 2.
run 2 && pass=$((pass + 1))
run 2 -x tests/checkc/good.c && pass=$((pass + 1))
run 2 -I && pass=$((pass + 1))
run 2 tests/checkc/no-such-file.c && pass=$((pass + 1))
run 2 tests/checkc/good.c tests/checkc/good.h extra.c && pass=$((pass + 1))
# An explicit header: good.c against another file's header.
line="tests/checkc/exported.h:5:5: error: 'net_forward' is declared in the header but not defined in tests/checkc/good.c"
if run 1 -I runtime tests/checkc/good.c tests/checkc/exported.h; then
  if grep -F -x -q -e "$line" "$tmp/out"; then
    pass=$((pass + 1))
  else
    bad "good.c with exported.h: expected the line: $line"
  fi
fi

test_finish
