#!/bin/sh
# bench/run.sh — the benchmark suite: the training step and inference of
# each reference model as nnc generates it, against the same model in
# PyTorch, at the same thread counts, measured in one run (see
# bench/README.md). Not a test: it prints numbers.
#
# Usage: bench/run.sh [MODEL...]
#   (default: mlp lenet cnn_bn lstm gru gpt vae gcn; also cnn_bn_fashion)
# Environment: BUILD (the nnc build directory, default build; configured and
# built when its nnc is missing), STEPS (timed steps, default 30), WARMUP
# (default 5), THREADS (thread counts, default "1 2"), PYTHON (default
# /usr/bin/python3), CC.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) build=$BUILD ;; *) build=$top/$BUILD ;; esac
STEPS=${STEPS:-30}
WARMUP=${WARMUP:-5}
THREADS=${THREADS:-1 2}
PYTHON=${PYTHON:-/usr/bin/python3}
CC=${CC:-gcc}
models=${*:-mlp lenet cnn_bn lstm gru gpt vae gcn}
. "$top/bench/common.sh"

for model in $models; do config "$model" >/dev/null; done

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

out=$build/bench
mkdir -p "$out"

build_runtime "$out"

echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset (autodetected)} threads=$THREADS steps=$STEPS warmup=$WARMUP openmp=${omp:-no}"
results=$out/results.txt
: >"$results"
first=1
for model in $models; do
  set -- $(config "$model")
  src=$1
  shift
  "$build/compiler/nnc" "$top/$src" -o "$out/$model.c"
  prefix=$(sed -n 's/^extern const nnc_model_desc \([a-z0-9_]*\);.*/\1/p' "$out/$model.h")
  $CC $cflags $omp -I"$top/runtime" -I"$out" -DMODEL_DESC="$prefix" \
    -include "$out/$model.h" "$top/bench/harness.c" "$out/$model.c" \
    "$out/libnncrt_bench.a" $blas_libs -lz -lm -o "$out/harness_$model"
  syms=
  for a in "$@"; do case $a in *=*) syms="$syms $a" ;; esac; done
  for t in $THREADS; do
    if [ "$first" = 1 ]; then # the GEMM library's ceiling, once per thread count
      OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t "$out/harness_$model" --sgemm "$t" |
        tee -a "$results"
    fi
    OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t \
      "$out/harness_$model" "$model" "$STEPS" "$WARMUP" "$t" "$@" | tee -a "$results"
    OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t \
      OMP_WAIT_POLICY=passive "$PYTHON" "$top/bench/torch_twin.py" "$model" "$STEPS" "$WARMUP" "$t" $syms |
      tee -a "$results"
  done
  first=0
done

# Summary per model, measurement and thread count. speedup: PyTorch's time
# over nnc's (above 1: nnc is faster). GFLOP/s: the forward pass's matrix
# products and convolutions (three times that for a training step) per
# second; % sgemm: that as a share of cblas_sgemm's rate at the same
# threads. peak MB: growth of the resident set over the training loop.
echo
awk '
  $1 == "sgemm" { split($2, st, "="); ceil[st[2]] = $4 }
  $1 == "nnc" && $3 ~ /^(train|infer|infer1)$/ {
    k = $2 " " $3 " " $4; n[k] = $6; order[++cnt] = k
    if ($3 == "train") nmem[k] = $10
    at[k] = ""; for (i = 1; i <= NF; i++) if ($i == "at") for (j = i + 1; j <= NF; j++) at[k] = at[k] " " $j
  }
  $1 == "torch" {
    k = $2 " " $3 " " $4; t[k] = $6
    for (i = 1; i <= NF; i++) { if ($i == "flops") fl[k] = $(i + 1); if ($i == "peak_mb") tmem[k] = $(i + 1) }
  }
  END {
    printf "%-24s %-11s %9s %9s %9s %8s %7s %6s %7s %6s %8s %8s\n", "model", "sizes", "nnc ms", "torch ms", \
      "nnc smp/s", "speedup", "nnc GF", "%sgemm", "torch GF", "%sgemm", "nnc MB", "torch MB"
    for (i = 1; i <= cnt; i++) {
      k = order[i]
      if (!(k in t)) continue
      split(k, f, " "); split(f[3], th, "="); c = ceil[th[2]]
      b = 1; m = split(at[k], a, " "); for (j = 1; j <= m; j++) if (a[j] ~ /^B=/) { b = a[j]; sub(/B=/, "", b) }
      w = fl[k] * (f[2] == "train" ? 3 : 1) / 1e6
      gn = w / n[k]; gt = w / t[k]
      printf "%-24s %-11s %9.3f %9.3f %9.0f %7.2fx %7.1f %5.0f%% %7.1f %5.0f%% %8s %8s\n", k, at[k], n[k], t[k], \
        b * 1e3 / n[k], t[k] / n[k], gn, c ? 100 * gn / c : 0, gt, c ? 100 * gt / c : 0, \
        (k in nmem) ? nmem[k] : "", (k in tmem) ? tmem[k] : ""
    }
  }' "$results"
