#!/bin/sh
# run_backend.sh — every example (and tests/backend/models/) through the C
# backend: nnc writes model.c and model.h; the libclang checker
# (tools/nnc-checkc) must find no diagnostic and every declared function
# defined; the C compiler must accept it with -std=c99 -Wall -Wextra
# -pedantic -Werror; smoke.c runs each entry point (with the build's
# CFLAGS, so under ASan/UBSan in the sanitizer build). In the plain build the model is also compiled with
# -O0 (no simplification, no fusion, no shared buffers) and run the same
# way: every float result, and every gradient of each training entry, must
# agree with the optimised build within 1e-4 (relative, with an absolute
# floor of 1e-5); where the compiler has OpenMP, the C also compiles with
# -fopenmp -Werror and runs with every parallel loop split over 3 threads,
# to the same numbers; it compiles with -march=native -Werror, and runs
# with its rows in blocks of 16 (-DNNC_VB=16) to the very same numbers. The memory plan that `nnc --dump-ir=plan` reports
# must add up to the workspace the generated code asks for. Ends with
# `N passed, N failed`.
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

build_smoke() { # NAME PREFIX [FLAGS]: $tmp/NAME.c -> $tmp/NAME
  $CC -std=c99 ${CFLAGS:-} ${3:-} -O0 -I "$RUNTIME_INC" -DMODEL_DESC="$2_desc" -include "$tmp/$1.h" \
    "$tmp/$1.c" "$here/smoke.c" "$RUNTIME_LIB" ${LDFLAGS:-} $RTLIBS \
    -o "$tmp/$1" >"$tmp/log" 2>&1
}

# same_numbers A B: the dumps of smoke.c name the same values in the same
# order and agree within 1e-4 relative (1e-5 absolute near zero).
same_numbers() {
  paste -d ' ' "$1" "$2" | awk '
    NF != 4 || $1 != $3 { print "line " NR ": " $0; bad = 1; exit }
    { d = $2 - $4; if (d < 0) d = -d; m = $2 < 0 ? -$2 : $2; o = $4 < 0 ? -$4 : $4
      if (o > m) m = o
      if (d > 1e-5 && d > 1e-4 * m) { print "line " NR ": " $1 " " $2 " vs " $4; bad++ } }
    END { exit bad ? 1 : 0 }' &&
    [ "$(wc -l <"$1")" -eq "$(wc -l <"$2")" ]
}

omp=
plain=1 # the comparisons with -O0 and with OpenMP: the plain build only (the
case "${CFLAGS:-}" in # sanitizer build checks the memory of the -O1 code)
  *sanitize*) plain= ;;
  *) echo 'int main(void){return 0;}' | $CC -fopenmp -x c - -o "$tmp/omp" 2>/dev/null && omp=-fopenmp ;;
esac

# the processor's own instructions (-march=native): with GCC and AVX-512,
# the kernels' loops run on 64-byte vectors (NNC_KERNEL, NNC_VB)
native=
echo 'int main(void){return 0;}' | $CC -march=native -x c - -o "$tmp/native" 2>/dev/null &&
  native=-march=native

for f in "$SRCDIR"/examples/*.nn "$here"/models/*.nn; do # and models of its own
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
    -o "$tmp/$b.o" >"$tmp/log" 2>&1 &&
    { [ -z "$omp" ] || $CC -std=c99 -Wall -Wextra -pedantic -Werror $omp -I "$RUNTIME_INC" \
      -c "$tmp/$b.c" -o "$tmp/$b.o" >"$tmp/log" 2>&1; } &&
    { [ -z "$native" ] || $CC -std=c99 -Wall -Wextra -pedantic -Werror $native -I "$RUNTIME_INC" \
      -c "$tmp/$b.c" -o "$tmp/$b.o" >"$tmp/log" 2>&1; }; then ok; else
    bad "$b: the generated C does not compile cleanly"
    continue
  fi
  # -O0: the run checks memory and numbers, and the big models take gcc
  # minutes to optimise
  if build_smoke "$b" "$prefix" && OMP_NUM_THREADS=1 "$tmp/$b" "$tmp/$b.fused" >"$tmp/log" 2>&1; then
    ok
    cp "$tmp/log" "$tmp/log.run"
  else
    bad "$b: running its entry points"
    continue
  fi
  # the memory plan nnc reports (--dump-ir=plan, every symbol at 3, as
  # smoke.c runs) is the workspace the generated code asks for (on one
  # thread: the runtime's convolutions take scratch per thread)
  if "$NNC" --dump-ir=plan --sizes 3 "$f" 2>"$tmp/log" | awk '
      /^model .*: workspace per call/ { plan++ } # the first model, as smoke.c
      plan == 1 && /^  (fn|train) / { e = $2; total[e] = 0; order[++n] = e }
      plan == 1 && /^    buffer [0-9]+: offset / { total[e] += $5 }
      END { for (i = 1; i <= n; i++) print "workspace " order[i] " " total[order[i]] }' \
      >"$tmp/$b.plan" && grep '^workspace ' "$tmp/log.run" | cmp -s - "$tmp/$b.plan"; then
    ok
  else
    { cat "$tmp/$b.plan"; grep '^workspace ' "$tmp/log.run"; } >>"$tmp/log"
    bad "$b: the workspace of --dump-ir=plan differs from the generated code's"
  fi
  # OpenMP: every loop split over 3 threads (NNC_PARALLEL_MIN=1), and the
  # runtime's convolutions on 3 threads, give the same numbers
  if [ -n "$omp" ]; then
    if build_smoke "$b" "$prefix" "$omp -DNNC_PARALLEL_MIN=1" &&
      OMP_NUM_THREADS=3 OMP_WAIT_POLICY=passive "$tmp/$b" "$tmp/$b.omp" >"$tmp/log" 2>&1 &&
      same_numbers "$tmp/$b.fused" "$tmp/$b.omp" >"$tmp/log" 2>&1; then
      ok
    else
      bad "$b: with OpenMP threads (-fopenmp) the numbers differ"
    fi
  fi
  # rows in blocks of 16 (NNC_VB, as GCC's AVX-512 builds run them; a
  # reduction's values then go to its 8 partial sums in the same order) and
  # their remainders: the very same numbers
  if build_smoke "$b" "$prefix" "-DNNC_VB=16" &&
    OMP_NUM_THREADS=1 "$tmp/$b" "$tmp/$b.vb" >"$tmp/log" 2>&1 &&
    cmp "$tmp/$b.fused" "$tmp/$b.vb" >"$tmp/log" 2>&1; then
    ok
  else
    bad "$b: with rows in blocks of 16 (NNC_VB=16) the numbers differ"
  fi
  [ -n "$plain" ] || continue
  if "$NNC" -O0 "$f" -o "$tmp/$b.c" >"$tmp/log" 2>&1 && build_smoke "$b" "$prefix" &&
    "$tmp/$b" "$tmp/$b.plain" >"$tmp/log" 2>&1 &&
    same_numbers "$tmp/$b.fused" "$tmp/$b.plain" >"$tmp/log" 2>&1; then
    ok
  else
    bad "$b: nnc -O1 (fused) and -O0 (unfused) disagree"
  fi
done

# At -O2, as users build it: no warning either (gcc's optimisers warn of
# things -O0 does not see: a loop's remainder carried on from its blocks
# once drew -Waggressive-loop-optimizations in the transformer), and the
# float math of nnc_runtime.h (nnc_expf, nnc_logf, nnc_geluf, ...) is
# inlined into the generated loops, which then vectorise: a helper left
# out of line is a call per element (the VAE's binary cross-entropy once
# ran 1.6 times slower so).
for b in vae gpt lstm transformer; do
  [ -f "$tmp/$b.c" ] || continue
  if "$NNC" "$SRCDIR/examples/$b.nn" -o "$tmp/$b.c" >"$tmp/log" 2>&1 &&
    $CC -std=c99 -O2 -Wall -Wextra -pedantic -Werror -I "$RUNTIME_INC" -c "$tmp/$b.c" \
      -o "$tmp/$b.o" >"$tmp/log" 2>&1 &&
    $CC -std=c99 -O2 -Wall -Wextra -pedantic -Werror $native $omp -I "$RUNTIME_INC" \
      -c "$tmp/$b.c" -o "$tmp/$b.o" >"$tmp/log" 2>&1; then
    ok
  else
    bad "$b: the generated C does not compile cleanly at -O2"
    continue
  fi
  if nm "$tmp/$b.o" >"$tmp/nm" 2>>"$tmp/log" &&
    ! grep -E ' [tT] nnc_[a-z_]*(expf|logf|tanhf|erff|geluf|gelu_gradf|phif_|exp_poly_)$' \
      "$tmp/nm" >>"$tmp/log"; then
    ok
  else
    bad "$b: at -O2 a float math helper is not inlined"
  fi
done

test_finish
