# common.sh — sourced by the test runners: where things are, a scratch
# directory removed on exit, and the pass/fail count with the closing line.
#   test_setup NAME DEFAULT_SRCDIR
# sets SRCDIR, NNC (absolute), CC, RUNTIME_INC, RUNTIME_LIB, RTLIBS and
# tmp, and zeroes pass and fail; test_finish prints `N passed, N failed`
# and returns non-zero on any failure.
test_setup() {
  SRCDIR=${SRCDIR:-$2}
  NNC=${NNC:-$SRCDIR/build/compiler/nnc}
  case $NNC in /*) ;; *) NNC=$(pwd)/$NNC ;; esac
  if [ ! -x "$NNC" ]; then
    echo "$1: compiler not found: $NNC" >&2
    exit 2
  fi
  CC=${CC:-cc}
  RUNTIME_INC=${RUNTIME_INC:-$SRCDIR/runtime}
  RUNTIME_LIB=${RUNTIME_LIB:-${NNCRT:-$SRCDIR/build/runtime/libnncrt.a}}
  RTLIBS=${NNCRT_LIBS:--lopenblas -lz -lm}
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-$1.XXXXXX") || exit 2
  trap 'rm -rf "$tmp"' EXIT HUP INT TERM
  pass=0
  fail=0
}

test_finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
