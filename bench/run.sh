#!/bin/sh
# bench/run.sh — training-step speed of the C that nnc generates against
# PyTorch, at the same thread counts, measured in one run (see
# bench/README.md).
#
# Usage: bench/run.sh [MODEL...]   (default: lenet cnn_bn)
# Environment: BUILD (the nnc build directory, default build; configured and
# built when its nnc is missing), B (batch, default 64), STEPS (timed steps,
# default 50), WARMUP (default 10), THREADS (thread counts, default "1 2"),
# PYTHON (default /usr/bin/python3), CC.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) build=$BUILD ;; *) build=$top/$BUILD ;; esac
B=${B:-64}
STEPS=${STEPS:-50}
WARMUP=${WARMUP:-10}
THREADS=${THREADS:-1 2}
PYTHON=${PYTHON:-/usr/bin/python3}
CC=${CC:-gcc}
models=${*:-lenet cnn_bn}

# PyTorch's allocator kept from returning memory to the system between
# steps (it is up to 5x slower otherwise on this machine).
export MALLOC_TRIM_THRESHOLD_=4294967296 MALLOC_TOP_PAD_=268435456
export MALLOC_MMAP_THRESHOLD_=33554432

# nnc itself: configure and build when missing, else bring it up to date.
if [ ! -x "$build/compiler/nnc" ]; then
  [ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)
  mkdir -p "$build"
  (cd "$build" && "$top/configure" -q)
fi
make -s -C "$build" compiler/nnc >/dev/null

# The runtime and the models at -O2 -march=native, as a user would build them.
out=$build/bench
mkdir -p "$out"
blas_cflags=$(pkg-config --cflags openblas)
blas_libs=$(pkg-config --libs openblas)
cflags="-std=c99 -O2 -march=native -D_POSIX_C_SOURCE=200809L -DNNC_HAVE_OPENBLAS=1 $blas_cflags"
objs=
for src in errors gemm rng optim safetensors data metrics conv; do
  $CC $cflags -c "$top/runtime/$src.c" -o "$out/rt_$src.o"
  objs="$objs $out/rt_$src.o"
done
rm -f "$out/libnncrt_bench.a"
ar rcs "$out/libnncrt_bench.a" $objs

# The generated loops run on OpenMP threads when the compiler has it.
# OpenBLAS (Debian's pthreads build) keeps its own threads: with OpenMP's
# default of spinning after a parallel loop the two pools fight over the
# cores (the cnn_bn step went from 50 to 125-150 ms at 2 threads), so
# OpenMP threads sleep when idle, on both sides.
export OMP_WAIT_POLICY=passive
omp=
if echo 'int main(void){return 0;}' | $CC -fopenmp -x c - -o "$out/omp_probe" 2>/dev/null; then
  omp=-fopenmp
fi

echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset (autodetected)} threads=$THREADS B=$B steps=$STEPS warmup=$WARMUP openmp=${omp:-no}"
results=$out/results.txt
: >"$results"
for model in $models; do
  "$build/compiler/nnc" "$top/examples/$model.nn" -o "$out/$model.c"
  prefix=$(sed -n 's/^extern const nnc_model_desc \([a-z0-9_]*\);.*/\1/p' "$out/$model.h")
  $CC $cflags $omp -I"$top/runtime" -I"$out" -DMODEL_DESC="$prefix" \
    -include "$out/$model.h" "$top/bench/harness.c" "$out/$model.c" \
    "$out/libnncrt_bench.a" $blas_libs -lz -lm -o "$out/harness_$model"
  for t in $THREADS; do
    OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t \
      "$out/harness_$model" "$B" "$STEPS" "$WARMUP" "$t" | tee -a "$results"
    OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t \
      "$PYTHON" "$top/bench/torch_twin.py" "$model" "$B" "$STEPS" "$WARMUP" "$t" |
      tee -a "$results"
  done
done

# Summary: PyTorch time / nnc time per model and measurement (> 1: nnc faster).
echo
awk '
  $1 == "nnc" && $3 ~ /^(train|infer)$/ { k = $2 " " $3 " " $4 " " $5; n[k] = $7; order[++cnt] = k }
  $1 == "torch" { k = $2 " " $3 " " $4 " " $5; t[k] = $7 }
  END {
    printf "%-26s %10s %10s %12s %12s %8s\n", "model", "nnc ms", "torch ms", "nnc smp/s", "torch smp/s", "speedup"
    for (i = 1; i <= cnt; i++) {
      k = order[i]; split(k, f, " "); b = f[3]; sub(/B=/, "", b)
      if (!(k in t)) continue
      printf "%-26s %10.3f %10.3f %12.0f %12.0f %7.2fx\n", k, n[k], t[k], b * 1e3 / n[k], b * 1e3 / t[k], t[k] / n[k]
    }
  }' "$results"
