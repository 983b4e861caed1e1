#!/bin/sh
# run_examples.sh — every examples/*.nn must compile, its IR dump must read
# back to the same dump, and its summary must print:
#
#   nnc --emit=ir F > a.ir;  nnc --read-ir a.ir --emit=ir > b.ir;  cmp a.ir b.ir
#   nnc --summary F
#   nnc --emit=dot F | gc -n       (valid Graphviz, when graphviz is installed)
#
# Then --summary's workspace lines at --sizes, and bad --sizes values
# (exit 2).
# An example with a line `#   FILE:LINE:COL: error: ...` is meant to fail:
# nnc must exit 1 and print exactly that first line (examples/bad.nn).
# Runs from the source root; NNC and SRCDIR as in run_golden.sh. Each of the
# three checks per example counts once. Ends with `N passed, N failed`.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
test_setup examples "$(dirname "$here")"
cd "$SRCDIR" || exit 2

ok() { pass=$((pass + 1)); }
bad() {
  echo "FAIL: $1"
  sed -e 's/^/  | /' "$tmp/err" | head -n 20
  fail=$((fail + 1))
}

for f in examples/*.nn; do
  [ -e "$f" ] || continue
  want=$(sed -n "s|^#   \($f:[0-9]*:[0-9]*: error: .*\)|\1|p" "$f" | head -n 1)
  if [ -n "$want" ]; then
    "$NNC" --emit=ir "$f" >"$tmp/out" 2>"$tmp/err"
    st=$?
    if [ "$st" = 1 ] && [ "$(head -n 1 "$tmp/err")" = "$want" ]; then
      ok
    else
      bad "$f: expected exit 1 and: $want"
    fi
    continue
  fi
  if "$NNC" --emit=ir "$f" >"$tmp/a.ir" 2>"$tmp/err"; then
    ok
    if "$NNC" --read-ir "$tmp/a.ir" --emit=ir >"$tmp/b.ir" 2>"$tmp/err"; then
      if cmp -s "$tmp/a.ir" "$tmp/b.ir"; then
        ok
      else
        : >"$tmp/err"
        bad "$f: IR round trip differs (dump vs. dump of the read dump)"
        diff -u "$tmp/a.ir" "$tmp/b.ir" | sed -e "s|$tmp/||" | head -n 40
      fi
    else
      bad "$f: --read-ir of its own dump failed"
    fi
  else
    bad "$f: --emit=ir failed"
    bad "$f: IR round trip not run"
  fi
  if "$NNC" --summary "$f" >"$tmp/out" 2>"$tmp/err"; then
    ok
  else
    bad "$f: --summary failed"
  fi
  # the graph must be valid Graphviz (when graphviz is installed): gc
  # parses it without the layout, which takes minutes on the big graphs
  if command -v gc >/dev/null 2>&1; then
    if "$NNC" --emit=dot "$f" 2>"$tmp/err" | gc -n >/dev/null 2>>"$tmp/err"; then
      ok
    else
      bad "$f: --emit=dot is not valid Graphviz"
    fi
  fi
done

# the workspace lines of --summary, at the sizes --sizes gives
: >"$tmp/err"
"$NNC" --summary --sizes B=8 examples/lenet.nn >"$tmp/out" 2>"$tmp/err"
if [ $? = 0 ] && grep -q '^model LeNet: workspace per call at B=8$' "$tmp/out" &&
  grep -Eq '^  train step +[0-9.]+ MB planned, +[0-9.]+ MB unplanned \([0-9]+ values in [0-9]+ buffers\)(; [0-9.]+ MB of it only for input gradients)?$' "$tmp/out"; then
  ok
else
  cat "$tmp/out" >>"$tmp/err"
  bad "--summary --sizes B=8: no workspace lines at B=8"
fi
for spec in B=0 X=3 B=two =4; do
  "$NNC" --summary --sizes "$spec" examples/lenet.nn >"$tmp/out" 2>"$tmp/err"
  if [ $? = 2 ] && grep -q "^nnc: --sizes" "$tmp/err"; then ok; else bad "--sizes $spec: expected exit 2 and a --sizes message"; fi
done

# what the recurrent examples' generated code must not do: copy their gates
# out of the step's product (slices read in place by the fused step), add
# the recurrent weight's gradient into a carry every step (one product over
# all steps after the backward scan), or compute the step's product again
# in the backward scan (stacked by the forward scan: one GEMM per step each
# way, on the recurrent weight packed before the loop)
for b in lstm gru; do
  if "$NNC" "examples/$b.nn" -o "$tmp/$b.c" 2>"$tmp/err"; then
    views=$(grep -c ' a view of ' "$tmp/$b.c")
    slices=$(grep -c '_slice_k[0-9]*(' "$tmp/$b.c")
    steps=$(awk '/_step_run\(/ { on = 1 }
      on && /^ *for \(int64_t step0 = 0/ { n++; match($0, /^ */); ind = RLENGTH; inside = 1; next }
      inside && /nnc_[sd]gemm(_pb)?\(/ { g[n]++ }
      inside { match($0, /^ */); if (RLENGTH == ind && $0 ~ /^ *}$/) inside = 0 }
      END { for (i = 1; i <= n; i++) printf "%d", g[i] }' "$tmp/$b.c")
    packed=$(grep -c 'nnc_[sd]gemm_pb(' "$tmp/$b.c")
    if [ "$views" -ge 6 ] && [ "$slices" = 0 ] && [ -n "$steps" ] &&
      [ -z "$(echo "$steps" | tr -d 1)" ] && [ "$packed" -ge 2 ]; then
      ok
    else
      bad "$b: gate views $views (want 6 or more), slice kernels $slices (want 0), GEMMs per step of each training scan '$steps' (want all 1), products on packed weights $packed (want 2 or more)"
    fi
  else
    bad "$b: nnc -o failed"
  fi
done

test_finish
