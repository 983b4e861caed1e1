# bench/common.sh — what bench/run.sh and bench/ab.sh share: the reference
# models and the runtime they link. Sourced with $top and $CC set.

# The reference models: source, symbol values, ranges of integer inputs.
config() {
  case $1 in
    mlp) echo "examples/mlp.nn B=64" ;;
    lenet) echo "examples/lenet.nn B=64" ;;
    cnn_bn) echo "bench/models/cnn_bn.nn B=32" ;;
    cnn_bn_fashion) echo "examples/cnn_bn.nn B=64" ;;
    lstm) echo "bench/models/lstm.nn B=32 T=32" ;;
    gru) echo "bench/models/gru.nn B=32 T=32" ;;
    gpt) echo "examples/gpt.nn B=8 T=64 idx%512 targets%512" ;;
    vae) echo "examples/vae.nn B=64" ;;
    gcn) echo "bench/models/gcn.nn N=2708 E=10556 src%2708 dst%2708 y%7" ;;
    *)
      echo "bench: unknown model $1" >&2
      exit 2
      ;;
  esac
}

# build_runtime OUT: sets $omp (-fopenmp when the compiler has it), $cflags
# and $blas_libs for the models, and builds the runtime as
# OUT/libnncrt_bench.a. The generated loops and the runtime's convolutions,
# pooling and matrix products run on OpenMP threads, OpenBLAS on one
# thread: OpenMP's default wait policy suits nnc's side. PyTorch keeps
# OpenBLAS's threads (Debian's pthreads build) next to its OpenMP ones, and
# its OpenMP threads sleep when idle (OMP_WAIT_POLICY=passive), so that the
# two pools do not fight over the cores. The runtime and the models build
# at -O2 -march=native, as a user would build them.
build_runtime() {
  omp=
  if echo 'int main(void){return 0;}' | $CC -fopenmp -x c - -o "$1/omp_probe" 2>/dev/null; then
    omp=-fopenmp
  fi
  blas_cflags=$(pkg-config --cflags openblas)
  blas_libs=$(pkg-config --libs openblas)
  cflags="-std=c99 -O2 -march=native -D_POSIX_C_SOURCE=200809L -DNNC_HAVE_OPENBLAS=1 $blas_cflags"
  objs=
  for src in errors gemm rng optim safetensors data metrics conv; do
    $CC $cflags $omp -fno-math-errno -c "$top/runtime/$src.c" -o "$1/rt_$src.o" # as Makefile.am
    objs="$objs $1/rt_$src.o"
  done
  rm -f "$1/libnncrt_bench.a"
  ar rcs "$1/libnncrt_bench.a" $objs
}
