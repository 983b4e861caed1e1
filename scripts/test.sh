#!/bin/bash
# test.sh — builds (scripts/setup.sh) and runs every test: the Check unit
# tests and the golden and example runners, first in build/, then again in
# build-san/ with AddressSanitizer and UndefinedBehaviorSanitizer.
# Prints each test's summary line and ends with the plain line
# `N passed, N failed` over everything; exits non-zero on any failure.
# Usage: scripts/test.sh [--no-san]
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2

san=1
for arg in "$@"; do
  case $arg in
    --no-san) san=0 ;;
    -h | --help)
      echo "usage: scripts/test.sh [--no-san]"
      exit 0
      ;;
    *)
      echo "test.sh: unknown argument: $arg" >&2
      exit 2
      ;;
  esac
done

total_pass=0
total_fail=0

# summarize DIR LABEL MAKE_STATUS: prints one line per test from its .trs and
# .log files and adds its counts to the totals.
summarize() {
  local dir=$1 label=$2 status=$3 pass=0 fail=0 trs name log res line p f
  while IFS= read -r trs; do
    name=${trs%.trs}
    log=$name.log
    res=$(sed -n 's/^:test-result: *//p' "$trs" | head -n 1)
    p=0 f=0
    line=$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' \
      "$log" 2>/dev/null | tail -n 1)
    if [ -n "$line" ]; then
      local n fl er
      n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
      fl=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
      er=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
      p=$((n - fl - er))
      f=$((fl + er))
    else
      line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" 2>/dev/null |
        tail -n 1)
      if [ -n "$line" ]; then
        p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
        f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
      else
        line="no summary line"
      fi
    fi
    case $res in
      PASS | XFAIL | SKIP) [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && p=1 ;;
      *)
        # Failed as a whole (crash, sanitizer report at exit, ...).
        if [ "$f" -eq 0 ]; then
          f=1
          line="$line (exit status: $res; see $log)"
        fi
        ;;
    esac
    echo "$label ${name#"$dir"/}: $line"
    if [ "$f" -ne 0 ] && [ -f "$log" ]; then
      grep -E '(:[EF]:|ERROR|FAIL|Sanitizer|runtime error)' "$log" |
        grep -v -E '^(FAIL|ERROR|XPASS) .*\(exit status: [0-9]+\)$' |
        head -n 10 | sed -e 's/^/    /'
    fi
    pass=$((pass + p))
    fail=$((fail + f))
  done < <(find "$dir/tests" -name '*.trs' 2>/dev/null | sort |
    awk '/\/unit\//{ print; next } { rest[n++] = $0 }
         END { for (i = 0; i < n; i++) print rest[i] }')
  if [ "$status" -ne 0 ] && [ "$fail" -eq 0 ]; then
    echo "$label make check failed (exit $status) before any test failed:" \
      "see the build output above"
    fail=$((fail + 1))
  fi
  echo "$label: $pass passed, $fail failed"
  total_pass=$((total_pass + pass))
  total_fail=$((total_fail + fail))
}

# run_check DIR LABEL
run_check() {
  local dir=$1 label=$2 status
  find "$dir/tests" \( -name '*.log' -o -name '*.trs' \) -delete 2>/dev/null
  make -C "$dir" -j2 check
  status=$?
  echo
  summarize "$dir" "$label" "$status"
}

finish() {
  echo "$total_pass passed, $total_fail failed"
  [ "$total_fail" -eq 0 ]
  exit
}

if ! bash scripts/setup.sh; then
  echo "[build] setup failed: see the output above"
  total_fail=$((total_fail + 1))
  finish
fi
run_check build "[build]"

if [ "$san" -eq 1 ]; then
  if [ ! -f build-san/Makefile ]; then
    mkdir -p build-san
    if ! (cd build-san && ../configure --enable-asan --enable-ubsan); then
      echo "[asan+ubsan] configure failed: see the output above"
      total_fail=$((total_fail + 1))
      finish
    fi
  fi
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
  run_check build-san "[asan+ubsan]"
fi

finish
