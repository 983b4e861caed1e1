#!/bin/sh
# run_backend.sh — every example through the C backend: nnc writes model.c
# and model.h; the libclang checker (tools/nnc-checkc) must find no
# diagnostic and every declared function defined; the C compiler must
# accept it with -std=c99 -Wall -Wextra -pedantic -Werror; smoke.c runs
# each entry point (with the build's CFLAGS, so under ASan/UBSan in the
# sanitizer build). Ends with `N passed, N failed`.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../common.sh"
test_setup backend "$(dirname "$(dirname "$here")")"
NNC_CHECKC=${NNC_CHECKC:-$SRCDIR/build/tools/nnc-checkc}
ok() { pass=$((pass + 1)); }
bad() {
  echo "FAIL: $1"
  sed 's/^/  | /' "$tmp/log" | head -n 25
  fail=$((fail + 1))
}

for f in "$SRCDIR"/examples/*.nn; do
  b=$(basename "$f" .nn)
  grep -q '^#   examples/.*: error: ' "$f" && continue # meant to fail
  prefix=$(sed -n 's/^model \([A-Za-z_0-9]*\).*/\1/p' "$f" | head -n 1 | tr 'A-Z' 'a-z')
  if ! "$NNC" "$f" -o "$tmp/$b.c" >"$tmp/log" 2>&1; then
    bad "$b: nnc -o failed"
    continue
  fi
  ok
  if [ -x "$NNC_CHECKC" ]; then
    if "$NNC_CHECKC" -I "$RUNTIME_INC" "$tmp/$b.c" >"$tmp/log" 2>&1; then ok; else bad "$b: nnc-checkc"; fi
  fi
  if $CC -std=c99 -Wall -Wextra -pedantic -Werror -I "$RUNTIME_INC" -c "$tmp/$b.c" \
    -o "$tmp/$b.o" >"$tmp/log" 2>&1; then ok; else
    bad "$b: the generated C does not compile cleanly"
    continue
  fi
  # -O0: the run checks memory and numbers, and the big models take gcc
  # minutes to optimise
  if $CC -std=c99 ${CFLAGS:-} -O0 -I "$RUNTIME_INC" -DMODEL_DESC="${prefix}_desc" -include "$tmp/$b.h" \
    "$tmp/$b.c" "$here/smoke.c" "$RUNTIME_LIB" ${LDFLAGS:-} $RTLIBS \
    -o "$tmp/$b" >"$tmp/log" 2>&1 && "$tmp/$b" >"$tmp/log" 2>&1; then
    ok
  else
    bad "$b: running its entry points"
  fi
done

test_finish
