#!/bin/sh
# run_train.sh — end-to-end tests of the trainer (runtime/train.c) and of
# `nnc train` (compiler/train_cmd.c).
#
# The trainer is tested through softmax_model.c, a hand-written model behind
# an nnc_model_desc, on a small synthetic data set that make_data.c writes
# (IDX, gzipped IDX and CSV): training, the report and its files,
# checkpoints and resuming, early stopping, reproducibility, input shapes,
# augmentation, --init-from, training without labels, and the errors for bad
# data, bad options and models that do not fit. `nnc train` is tested for
# its usage and errors and, when Fashion-MNIST is installed, end to end on
# examples/mlp.nn (compile, build, cache, train, report; --init-from into a
# model with another head; --freeze), examples/autoencoder.nn (reconstruction
# MSE, recon_grid.png), examples/vae.nn (samples.png) and examples/rotnet.nn
# (self-supervised step, then the linear probe from its checkpoint).
#
# Environment (from `make check`): SRCDIR, BUILDDIR, NNC, CC, CPPFLAGS,
# CFLAGS, LDFLAGS, NNCRT (libnncrt.a), NNCRT_LIBS; defaults suit a build in build/. Ends
# with `N passed, N failed`; exits 1 on any failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
SRCDIR=${SRCDIR:-$(cd "$here/../.." && pwd)}
BUILDDIR=${BUILDDIR:-$SRCDIR/build}
NNC=${NNC:-$BUILDDIR/compiler/nnc}
CC=${CC:-cc}
CPPFLAGS=${CPPFLAGS-}
CFLAGS=${CFLAGS--O2}
LDFLAGS=${LDFLAGS-}
FASHION=${FASHION:-/usr/share/datasets/fashion-mnist}
LIB=${NNCRT:-$BUILDDIR/runtime/libnncrt.a}
LIBS=${NNCRT_LIBS:-"-lopenblas -lz -lm"}
cd "$SRCDIR" || exit 2
for f in "$LIB" "$NNC"; do
  if [ ! -f "$f" ]; then
    echo "run_train: not built: $f" >&2
    exit 2
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nnc-train.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
pass=0
fail=0

ok() { pass=$((pass + 1)); }
# bad NAME WHY: a failure, with the last run's output
bad() {
  echo "FAIL: $1: $2"
  [ -f "$tmp/out" ] && sed -e 's/^/  out| /' "$tmp/out" | tail -n 15
  [ -f "$tmp/err" ] && sed -e 's/^/  err| /' "$tmp/err" | tail -n 15
  fail=$((fail + 1))
}
# check NAME COMMAND...: passes when COMMAND succeeds
check() {
  name=$1
  shift
  if "$@"; then ok; else bad "$name" "$*"; fi
}
# run CMD...: runs with stdout in $tmp/out, stderr in $tmp/err, status $rc;
# a sanitizer's report (which may exit 1, as expected errors do) fails it
run() {
  "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  if grep -q -e 'Sanitizer' -e 'runtime error:' "$tmp/err"; then
    bad "sanitizer report" "$*"
  fi
}
has() { grep -q -e "$1" "$tmp/${2:-out}"; }
lines() { grep -c -e "$1" "$tmp/${2:-out}"; }
# the accuracy of the `test accuracy: 0.xxxx` line is at least $1
acc_at_least() {
  awk -v min="$1" '/^test accuracy: [01]\.[0-9][0-9][0-9][0-9]$/ {
      found = 1; if ($3 + 0 < min) low = 1 }
    END { exit !(found && !low) }' "$tmp/out"
}

# ------------------------------------------------------------ build
build() { # OUT DEFINES...: the hand-written model as a trainer program
  out=$1
  shift
  # shellcheck disable=SC2086 # flags are word lists
  $CC $CPPFLAGS $CFLAGS -std=c99 "$@" -I"$SRCDIR/runtime" \
    tests/train/softmax_model.c "$LIB" $LDFLAGS $LIBS -o "$out"
}
# shellcheck disable=SC2086
if ! $CC $CFLAGS -std=c99 tests/train/make_data.c $LDFLAGS -o "$tmp/make_data" ||
  ! build "$tmp/sm" || ! build "$tmp/sm_nchw" -DNCHW ||
  ! build "$tmp/sm_nolabels" -DNO_LABELS || ! build "$tmp/sm_k6" -DK=6; then
  echo "FAIL: building the test programs"
  echo "0 passed, 1 failed"
  exit 1
fi
SM=$tmp/sm
D=$tmp/data
F28=$tmp/f28
mkdir -p "$D" "$tmp/gz" "$tmp/small" "$tmp/six" "$tmp/empty" "$F28"
"$tmp/make_data" idx "$D" 600 200 8 4 1 &&
  "$tmp/make_data" idx "$tmp/gz" 600 200 8 4 2 &&
  gzip "$tmp"/gz/*-ubyte &&
  "$tmp/make_data" idx "$tmp/small" 200 50 4 4 3 &&
  "$tmp/make_data" idx "$tmp/six" 200 50 8 6 4 &&
  "$tmp/make_data" idx "$tmp/f28" 300 60 28 10 7 &&
  "$tmp/make_data" csv "$tmp/data.csv" 600 8 4 5 || {
  echo "FAIL: writing the data sets"
  echo "0 passed, 1 failed"
  exit 1
}

# ------------------------------------------------------------ training
O=$tmp/o1
run "$SM" --data "$D" --epochs 5 --out "$O" --checkpoint "$O/ck.safetensors"
check "train: exit 0" [ "$rc" = 0 ]
check "train: test accuracy >= 0.9" acc_at_least 0.9
check "train: entry points chosen" has \
  "training with   train step(x: f32\[B,64\], y: i32\[B\]) -> loss: f32\[\]"
check "train: forward, not the decoy, for evaluation" has \
  "evaluating with fn forward(x: f32\[B,64\]) -> logits: f32\[B,4\]"
check "train: split and normalisation reported" has \
  "540 training, 60 validation, 200 test examples; 64 features, 4 classes"
check "train: five epoch lines" [ "$(lines '^epoch [1-5]/5  train loss [0-9.]*  train acc [0-9.]*  val loss [0-9.]*  val acc [0-9.]*  time ')" = 5 ]
check "train: progress bar on stderr" has "^epoch 5/5: 540 items" err
check "train: confusion matrix" has "^confusion matrix" 
check "train: per-class metrics" has "^macro avg  *[01]\.[0-9]* "
check "train: learning_curves.svg" grep -q "<svg" "$O/learning_curves.svg"
check "train: report.txt" grep -q "^test accuracy: " "$O/report.txt"
check "train: checkpoint" [ -s "$O/ck.safetensors" ]
check "train: trainer state" grep -q "^epoch [1-5]$" "$O/ck.safetensors.state"
check "train: no temporary files left" \
  [ "$(find "$O" -name '*.tmp*' | wc -l)" = 0 ]
cp "$tmp/out" "$tmp/first"

run "$SM" --data "$D" --epochs 5 --out "$tmp/o1b"
grep '^epoch\|^test' "$tmp/first" | sed 's/time .*//' >"$tmp/a"
grep '^epoch\|^test' "$tmp/out" | sed 's/time .*//' >"$tmp/b"
check "train: same seed, same numbers" cmp -s "$tmp/a" "$tmp/b"
run "$SM" --data "$D" --epochs 2 --seed 9 --out "$tmp/o1c"
grep '^epoch 1' "$tmp/out" | sed 's/time .*//' >"$tmp/c"
check "train: another seed, other numbers" \
  sh -c "! grep -q -F -x -f '$tmp/c' '$tmp/a'"

# ------------------------------------------------------------ resuming
ep=$(sed -n 's/^epoch //p' "$O/ck.safetensors.state")
run "$SM" --data "$D" --epochs 7 --out "$tmp/o2" --resume "$O/ck.safetensors"
check "resume: exit 0" [ "$rc" = 0 ]
check "resume: says so" has "^resumed from $O/ck.safetensors"
check "resume: continues the epoch count" has "^epoch $((ep + 1))/7  train loss"
check "resume: still accurate" acc_at_least 0.9
printf 'not a safetensors file' >"$tmp/junk.safetensors"
run "$SM" --data "$D" --out "$tmp/o3" --resume "$tmp/junk.safetensors"
check "resume: corrupt checkpoint is exit 1" [ "$rc" = 1 ]
check "resume: corrupt checkpoint is named" \
  has "error: cannot resume from $tmp/junk.safetensors" err

# ------------------------------------------------------------ early stopping
# With a zero learning rate the validation loss never improves on epoch 1.
run "$SM" --data "$D" --epochs 20 --lr 0 --patience 2 --out "$tmp/o4" \
  --checkpoint "$tmp/o4/best.safetensors"
check "early stopping: exit 0" [ "$rc" = 0 ]
check "early stopping: stops after epoch 3" [ "$(lines '^epoch ')" = 3 ]
check "early stopping: says why" \
  has "^early stopping: the validation loss has not improved for 2 epochs"
check "early stopping: --lr shown" has "optimizer: adam, lr 0 (--lr)"
check "early stopping: tests the best checkpoint" \
  has "^testing the weights of epoch 1 (lowest validation loss)"
# Resumed with no improvement: the new checkpoint is never written, and the
# test uses the weights in hand.
run "$SM" --data "$D" --epochs $((ep + 2)) --lr 0 --out "$tmp/o4b" \
  --resume "$O/ck.safetensors" --checkpoint "$tmp/o4b/new.safetensors"
check "resume without improvement: exit 0" [ "$rc" = 0 ]
check "resume without improvement: no checkpoint" \
  [ ! -e "$tmp/o4b/new.safetensors" ]

# ------------------------------------------------------------ data
run "$SM" --data "$tmp/gz" --epochs 3 --out "$tmp/o5"
check "gzipped IDX: trains" acc_at_least 0.9
run "$SM" --data "$tmp/data.csv" --epochs 5 --out "$tmp/o6"
check "CSV: trains" acc_at_least 0.9
check "CSV: test split held out" \
  has "(CSV): 486 training, 54 validation, 60 test examples"
run "$SM" --data "$tmp/data.csv" --test "$tmp/data.csv" --epochs 1 \
  --val-fraction 0 --out "$tmp/o6b"
check "CSV: --test and --val-fraction 0" \
  has "(CSV): 600 training, 0 validation, 600 test examples"
run "$SM" --data "$D" --limit 100 --epochs 1 --out "$tmp/o7"
check "--limit: first N examples" has "90 training, 10 validation, 200 test"
run "$tmp/sm_nchw" --data "$D" --epochs 3 --out "$tmp/o8"
check "NCHW input: reshaped" has "train step(x: f32\[B,1,8,8\]"
check "NCHW input: trains" acc_at_least 0.9
run "$SM" --data "$D" --epochs 1 --quiet --out "$tmp/o9"
check "--quiet: only the accuracy line" \
  sh -c "[ \$(wc -l <'$tmp/out') = 1 ] && [ ! -s '$tmp/err' ]"
check "--quiet: accuracy" acc_at_least 0.5

# ------------------------------------------------------------ errors
run "$SM" --data "$tmp/nowhere" --out "$tmp/o10"
check "missing data: exit 1" [ "$rc" = 1 ]
check "missing data: says where" \
  has "error: data set '$tmp/nowhere' not found (No such file" err
run "$SM" --data "$tmp/empty" --out "$tmp/o10"
check "empty data dir: exit 1" [ "$rc" = 1 ]
check "empty data dir: names the files" \
  has "error: $tmp/empty has no train-images-idx3-ubyte" err
run "$SM" --data "$tmp/small" --out "$tmp/o10"
check "wrong image size: exit 1" [ "$rc" = 1 ]
check "wrong image size: says so" \
  has "takes x: f32\[B,64\]: 64 values per example, but the data set has 16" err
run "$SM" --data "$tmp/six" --out "$tmp/o10"
check "too many classes: exit 1" [ "$rc" = 1 ]
check "too many classes: says so" has "is out of range: the model's" err
run "$tmp/sm_nolabels" --data "$D" --epochs 1 --out "$tmp/o10"
check "model without labels: trains on x alone" \
  sh -c "[ $rc = 0 ] && grep -q 'no labels (the entry trains on x alone)' '$tmp/out'"
check "model without labels: values in [0, 1]" has "^  values in \[0, 1\]"
check "model without labels: epoch line without accuracy" \
  has "^epoch 1/1  train loss [0-9.]*  val loss [0-9.]*  time "
check "model without labels: test loss" has "^test loss: [0-9.]*$"
run "$SM" --epochs many
check "bad number: exit 2" [ "$rc" = 2 ]
check "bad number: says so" has "error: --epochs needs an integer" err
run "$SM" --frobnicate
check "unknown option: exit 2" [ "$rc" = 2 ]
run "$SM" --entry nope --data "$D"
check "--entry unknown: exit 1, one line" \
  sh -c "[ $rc = 1 ] && [ \$(wc -l <'$tmp/err') = 1 ] &&
         grep -q \"error: --entry nope: model Softmax has no entry named 'nope' (its train entries: step)\" '$tmp/err'"
run "$SM" --entry scores --data "$D"
check "--entry of an fn: exit 1" \
  sh -c "[ $rc = 1 ] && grep -q 'has no train entry (it is an fn)' '$tmp/err'"
run "$SM" --normalise sometimes
check "--normalise bad: exit 2" [ "$rc" = 2 ]

# ------------------------------------------------------------ augmentation
run "$SM" --data "$D" --epochs 2 --augment flip,shift=2 --out "$tmp/a1"
check "augment: exit 0" [ "$rc" = 0 ]
check "augment: reported" \
  has "training images (1x8x8) augmented: random horizontal flips, shifts of up to 2 pixels"
grep '^epoch\|^test' "$tmp/out" | sed 's/time .*//' >"$tmp/aug1"
run "$SM" --data "$D" --epochs 2 --augment flip,shift=2 --out "$tmp/a2"
grep '^epoch\|^test' "$tmp/out" | sed 's/time .*//' >"$tmp/aug2"
check "augment: same seed, same numbers" cmp -s "$tmp/aug1" "$tmp/aug2"
check "augment: other numbers than without" \
  sh -c "! grep -q -F -x -f '$tmp/aug1' '$tmp/a'"
# With --lr 0 nothing learns: the training loss sees the augmented images,
# validation and test must not.
run "$SM" --data "$D" --epochs 1 --lr 0 --out "$tmp/a3"
sed -n 's/^epoch 1\/1  train loss \([0-9.]*\) .*val loss \([0-9.]*\)  val acc \([0-9.]*\) .*/\1 \2 \3/p' \
  "$tmp/out" >"$tmp/noaug"
grep '^test' "$tmp/out" >>"$tmp/noaug"
run "$SM" --data "$D" --epochs 1 --lr 0 --augment flip,shift=3 --out "$tmp/a4"
sed -n 's/^epoch 1\/1  train loss \([0-9.]*\) .*val loss \([0-9.]*\)  val acc \([0-9.]*\) .*/\1 \2 \3/p' \
  "$tmp/out" >"$tmp/withaug"
grep '^test' "$tmp/out" >>"$tmp/withaug"
check "augment: training loss changes" \
  sh -c "[ \"\$(cut -d' ' -f1 '$tmp/noaug' | head -n 1)\" != \"\$(cut -d' ' -f1 '$tmp/withaug' | head -n 1)\" ]"
check "augment: validation and test unaffected" \
  sh -c "[ \"\$(cut -d' ' -f2- '$tmp/noaug')\" = \"\$(cut -d' ' -f2- '$tmp/withaug')\" ] &&
         [ -s '$tmp/noaug' ]"
for spec in flop shift=0 shift=x flip, ''; do
  run "$SM" --data "$D" --augment "$spec"
  check "augment: bad spec '$spec' is exit 2, one line" \
    sh -c "[ $rc = 2 ] && [ \$(wc -l <'$tmp/err') = 1 ] && grep -q 'error: --augment' '$tmp/err'"
done

# ------------------------------------------------------------ --init-from
run "$SM" --data "$D" --epochs 1 --init-from "$O/ck.safetensors" --out "$tmp/i1"
check "init-from: exit 0" [ "$rc" = 0 ]
check "init-from: reported" \
  has "^initialised from $O/ck.safetensors: 2 of 2 tensors loaded (2 of 2 parameters)$"
check "init-from: starts trained" acc_at_least 0.9
run "$SM" --data "$D" --init-from "$tmp/junk.safetensors"
check "init-from: corrupt file is exit 1, one line" \
  sh -c "[ $rc = 1 ] && [ \$(wc -l <'$tmp/err') = 1 ] &&
         grep -q 'error: --init-from: cannot read $tmp/junk.safetensors' '$tmp/err'"
run "$SM" --data "$D" --init-from "$tmp/none.safetensors"
check "init-from: missing file is exit 1" \
  sh -c "[ $rc = 1 ] && grep -q 'No such file' '$tmp/err'"
run "$tmp/sm_k6" --data "$tmp/six" --init-from "$O/ck.safetensors"
check "init-from: nothing matches is exit 1" \
  sh -c "[ $rc = 1 ] && grep -q 'no tensor of the file matches model Softmax' '$tmp/err'"
run "$SM" --data "$D" --init-from "$O/ck.safetensors" --resume "$O/ck.safetensors"
check "init-from with resume: exit 2" [ "$rc" = 2 ]

run "$SM" --help
check "--help: exit 0 and lists the options" \
  sh -c "[ $rc = 0 ] && grep -q -- '--patience N' '$tmp/out'"

# ------------------------------------------------------------ nnc train
run "$NNC" train --help
check "nnc train --help" \
  sh -c "[ $rc = 0 ] && grep -q -- '--build-dir DIR' '$tmp/out' &&
         grep -q -- '--checkpoint PATH' '$tmp/out'"
run "$NNC" train
check "nnc train without a model: exit 2" [ "$rc" = 2 ]
run "$NNC" train examples/mlp.nn --frobnicate
check "nnc train, unknown option: exit 2" [ "$rc" = 2 ]
run "$NNC" train examples/bad.nn --build-dir "$tmp/cache"
check "nnc train, error in the model: located" \
  sh -c "[ $rc = 1 ] && head -n 1 '$tmp/err' |
         grep -q '^examples/bad.nn:[0-9]*:[0-9]*: error: '"

run "$NNC" train examples/mlp.nn --model Nope --build-dir "$tmp/cache"
check "nnc train --model: unknown model named" \
  sh -c "[ $rc = 1 ] && grep -q \"no model named 'Nope' (the file has MLP)\" '$tmp/err'"
run env NNC_RUNTIME_DIR="$tmp/empty" "$NNC" train examples/mlp.nn \
  --build-dir "$tmp/cache"
check "nnc train: NNC_RUNTIME_DIR without a runtime" \
  sh -c "[ $rc = 1 ] && grep -q 'NNC_RUNTIME_DIR=.* holds no' '$tmp/err'"

# The whole path on Fashion-MNIST (Debian's dataset-fashion-mnist).
if [ ! -f "$FASHION/train-images-idx3-ubyte.gz" ]; then
  echo "SKIP: nnc train examples/mlp.nn (no Fashion-MNIST in $FASHION)"
else
  run "$NNC" train examples/mlp.nn --epochs 1 --limit 2000 \
    --build-dir "$tmp/cache" --out "$tmp/o11" --data "$FASHION"
  check "nnc train mlp: exit 0" [ "$rc" = 0 ]
  check "nnc train mlp: built" has "^nnc train: model MLP of examples/mlp.nn: building"
  check "nnc train mlp: entry points" has "training with   train step(x: f32\[B,784\], y: i32\[B\])"
  check "nnc train mlp: epoch line" has "^epoch 1/1  train loss [0-9.]*  train acc [0-9.]*  val loss [0-9.]*  val acc [0-9.]*  time "
  check "nnc train mlp: test accuracy" acc_at_least 0.6
  check "nnc train mlp: class names" has "T-shirt/top"
  check "nnc train mlp: learning curves" [ -s "$tmp/o11/learning_curves.svg" ]
  run "$NNC" train examples/mlp.nn --epochs 0 --quiet \
    --build-dir "$tmp/cache" --out "$tmp/o12" --data "$FASHION"
  check "nnc train mlp: cached binary reused, quiet" \
    sh -c "[ $rc = 0 ] && [ \$(wc -l <'$tmp/out') = 1 ] &&
           [ \$(ls '$tmp/cache' | wc -l) = 1 ]"
  run "$NNC" train examples/mlp.nn --epochs 1 --limit 500 --entry nope \
    --build-dir "$tmp/cache" --out "$tmp/o12" --data "$FASHION"
  check "nnc train --entry unknown: exit 1" \
    sh -c "[ $rc = 1 ] && grep -q \"has no entry named 'nope'\" '$tmp/err'"

  # transfer into a model with another head: fc2 and fc3 change shape
  sed -e 's/fc2 = Linear(256, 256)/fc2 = Linear(256, 64)/' \
    -e 's/fc3 = Linear(256, 10)/fc3 = Linear(64, 10)/' examples/mlp.nn \
    >"$tmp/mlp_narrow.nn"
  run "$NNC" train examples/mlp.nn --epochs 1 --limit 500 \
    --build-dir "$tmp/cache" --out "$tmp/o14" --data "$FASHION" \
    --checkpoint "$tmp/o14/mlp.safetensors"
  run "$NNC" train "$tmp/mlp_narrow.nn" --epochs 1 --limit 500 \
    --build-dir "$tmp/cache" --out "$tmp/o15" --data "$FASHION" \
    --init-from "$tmp/o14/mlp.safetensors"
  check "init-from, another head: exit 0" [ "$rc" = 0 ]
  check "init-from, another head: partial load reported" \
    has "^initialised from $tmp/o14/mlp.safetensors: 3 of 6 tensors loaded"
  check "init-from, another head: the skipped head" \
    has "^  skipped fc3.weight: has shape \[10, 256\] in the file but the model needs \[10, 64\]$"

  # --freeze: no gradient, no optimizer state, the weights stay as loaded
  "$NNC" examples/mlp.nn -o "$tmp/mlp_all.c" &&
    "$NNC" --freeze fc1 examples/mlp.nn -o "$tmp/mlp_frozen.c"
  st_all=$(sed -n 's/.*m->step_state = calloc((size_t)\([0-9]*\) .*/\1/p' "$tmp/mlp_all.c")
  st_frozen=$(sed -n 's/.*m->step_state = calloc((size_t)\([0-9]*\) .*/\1/p' "$tmp/mlp_frozen.c")
  check "freeze: the optimizer state shrinks by fc1's moments" \
    [ "$st_all" = 538644 ] && [ "$st_frozen" = $((538644 - 2 * 200960)) ]
  run "$NNC" --freeze fc9 examples/mlp.nn
  check "freeze: unknown name is exit 1, one line" \
    sh -c "[ $rc = 1 ] && [ \$(wc -l <'$tmp/err') = 1 ] &&
           grep -q \"error: --freeze: 'fc9' matches no parameter of model MLP\" '$tmp/err'"
  run "$NNC" train examples/mlp.nn --freeze fc --build-dir "$tmp/cache"
  check "nnc train --freeze unknown prefix: exit 1" \
    sh -c "[ $rc = 1 ] && grep -q \"'fc' matches no parameter\" '$tmp/err'"
  ncache=$(ls "$tmp/cache" | wc -l)
  run "$NNC" train examples/mlp.nn --freeze fc1,fc2.bias --epochs 1 --limit 500 \
    --build-dir "$tmp/cache" --out "$tmp/o16" --data "$FASHION" \
    --init-from "$tmp/o14/mlp.safetensors" --checkpoint "$tmp/o16/mlp.safetensors"
  check "nnc train --freeze: exit 0" [ "$rc" = 0 ]
  check "nnc train --freeze: reported" \
    has "^nnc train: --freeze fc1,fc2.bias: 3 of 6 parameter tensors of MLP frozen"
  check "nnc train --freeze: a build of its own" \
    [ "$(ls "$tmp/cache" | wc -l)" = $((ncache + 1)) ]
  if command -v python3 >/dev/null 2>&1; then
    cat >"$tmp/stcmp.py" <<'PY'
import json, struct, sys
def load(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]
            for k, v in h.items() if k != "__metadata__"}
a, b = load(sys.argv[1]), load(sys.argv[2])
same = sorted(k for k in a if a[k] == b[k])
print(",".join(same))
PY
    check "nnc train --freeze: frozen tensors bit-identical, others trained" \
      [ "$(python3 "$tmp/stcmp.py" "$tmp/o14/mlp.safetensors" "$tmp/o16/mlp.safetensors")" = "fc1.bias,fc1.weight,fc2.bias" ]
  else
    echo "SKIP: comparing frozen tensors (no python3)"
  fi

fi

# ------------------------------------------------- models without labels
# On synthetic 28x28 images (60 test examples: the loss of a train entry is
# measured through its backward pass too, slow on 10000 rotnet tests).
png_size() { # FILE: "W H" when FILE starts with the PNG signature and IHDR
  od -An -tu1 -N24 "$1" | tr -s ' \n' ' ' |
    awk '$1 == 137 && $2 == 80 && $3 == 78 && $4 == 71 && $5 == 13 &&
         $6 == 10 && $7 == 26 && $8 == 10 && $13 == 73 && $14 == 72 &&
         $15 == 68 && $16 == 82 {
           print (($17 * 256 + $18) * 256 + $19) * 256 + $20,
                 (($21 * 256 + $22) * 256 + $23) * 256 + $24 }'
}
run "$NNC" train examples/autoencoder.nn --epochs 1 --limit 300 \
  --build-dir "$tmp/cache" --out "$tmp/o13" --data "$F28"
check "nnc train autoencoder: exit 0" [ "$rc" = 0 ]
check "nnc train autoencoder: reconstruction entry" \
  has "reconstructing with fn forward(x: f32\[B,784\])"
check "nnc train autoencoder: epoch line" \
  has "^epoch 1/1  train loss [0-9.]*  val loss [0-9.]*  time "
check "nnc train autoencoder: test loss and MSE" \
  sh -c "grep -q '^test loss: 0\.[0-9]*$' '$tmp/out' &&
         grep -q '^test reconstruction MSE: 0\.[0-9]*$' '$tmp/out'"
check "nnc train autoencoder: recon_grid.png, 8x4 tiles of 2x28+2 pixels" \
  [ "$(png_size "$tmp/o13/recon_grid.png")" = "466 234" ]
check "nnc train autoencoder: no temporary files" \
  [ "$(find "$tmp/o13" -name '*.tmp*' | wc -l)" = 0 ]
run "$NNC" train examples/vae.nn --epochs 1 --limit 300 --quiet \
  --build-dir "$tmp/cache" --out "$tmp/o17" --data "$F28"
check "nnc train vae: quiet, the loss with its terms by name" \
  sh -c "[ $rc = 0 ] && grep -q '^test loss: [0-9.]* (rec [0-9.]*, kl [0-9.]*)$' '$tmp/out'"
check "nnc train vae: samples.png, 8x8 tiles" \
  [ "$(png_size "$tmp/o17/samples.png")" = "466 466" ]
run "$NNC" train examples/rotnet.nn --epochs 1 --limit 100 \
  --build-dir "$tmp/cache" --out "$tmp/o18" --data "$F28" \
  --checkpoint "$tmp/o18/ss.safetensors"
check "nnc train rotnet step: self-supervised" \
  sh -c "[ $rc = 0 ] && grep -q 'training with   train step(x: f32\[B,1,28,28\]) -> loss' '$tmp/out' &&
         grep -q '^test loss: [0-9.]*$' '$tmp/out'"
run "$NNC" train examples/rotnet.nn --entry probe_step --epochs 1 \
  --limit 100 --normalise unit --init-from "$tmp/o18/ss.safetensors" \
  --build-dir "$tmp/cache" --out "$tmp/o19" --data "$F28"
check "nnc train rotnet probe: exit 0" [ "$rc" = 0 ]
check "nnc train rotnet probe: evaluated through classify" \
  has "evaluating with fn classify(x: f32\[B,1,28,28\]) -> out0: f32\[B,10\]"
check "nnc train rotnet probe: from the self-supervised weights" \
  has "^initialised from $tmp/o18/ss.safetensors: 10 of 10 tensors loaded"
check "nnc train rotnet probe: test accuracy" acc_at_least 0.0

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
