#!/bin/sh
# bench/ab.sh — one reference model as two builds of nnc generate it, timed
# step against step in one program (bench/pair.c): the way to measure a
# change of a few percent on a machine whose speed moves by more than that
# from one run to the next. Not a test: it prints numbers.
#
# Usage: bench/ab.sh NNC_A NNC_B MODEL...
#   NNC_A, NNC_B: two nnc binaries (a: the reference, b: the change)
# Environment: STEPS (pairs, default 60), THREADS (default 1), OUT (where
# the programs go, default a temporary folder, removed after), CC.
# Prints, per model, each version's median and least step time and the
# median and quartiles of a's time over b's, two pairs at a time (above 1:
# b is faster).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 3 ]; then
  echo "usage: bench/ab.sh NNC_A NNC_B MODEL..." >&2
  exit 2
fi
nnc_a=$1 nnc_b=$2
shift 2
STEPS=${STEPS:-60}
THREADS=${THREADS:-1}
CC=${CC:-gcc}
. "$top/bench/common.sh"
for model in "$@"; do config "$model" >/dev/null; done
if [ -n "${OUT:-}" ]; then
  out=$OUT
  mkdir -p "$out"
else
  out=$(mktemp -d "${TMPDIR:-/tmp}/nnc-ab.XXXXXX")
  trap 'rm -rf "$out"' EXIT HUP INT TERM
fi
build_runtime "$out"

for model in "$@"; do
  set -- $(config "$model")
  src=$1
  shift
  "$nnc_a" "$top/$src" -o "$out/a_$model.c"
  "$nnc_b" "$top/$src" -o "$out/$model.c"
  prefix=$(sed -n 's/^extern const nnc_model_desc \([a-z0-9_]*\)_desc;.*/\1/p' "$out/$model.h")
  type=$(sed -n 's/^\([A-Za-z0-9_]*\) \*[a-z0-9_]*_create(void);$/\1/p' "$out/$model.h")
  guard=$(sed -n 's/^#ifndef \(NNC_[A-Z0-9_]*_H\)$/\1/p' "$out/$model.h")
  # a's names moved aside: prefix_, the model's type and its macros, the guard
  for f in "$out/a_$model.c" "$out/a_$model.h"; do
    sed -i -e "s/\\b${prefix}_/a_${prefix}_/g" -e "s/\\b${type}\\b/A_${type}/g" \
      -e "s/\\b${type}_/A_${type}_/g" -e "s/\\b${guard}\\b/A_${guard}/g" \
      -e "s/#include \"$model.h\"/#include \"a_$model.h\"/" "$f"
  done
  $CC $cflags $omp -I"$top/runtime" -I"$top/bench" -I"$out" -DMODEL_A="a_${prefix}_desc" \
    -DMODEL_B="${prefix}_desc" -include "$out/a_$model.h" -include "$out/$model.h" \
    "$top/bench/pair.c" "$out/a_$model.c" "$out/$model.c" "$out/libnncrt_bench.a" \
    $blas_libs -lz -lm -o "$out/pair_$model"
  printf '%s T=%s: ' "$model" "$THREADS"
  OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS \
    "$out/pair_$model" "$STEPS" "$THREADS" "$@"
done
