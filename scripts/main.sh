#!/bin/bash
# main.sh — builds nnc (scripts/setup.sh), then the main job: compiles
# examples/mlp.nn to C, builds it against the runtime and trains it on
# Fashion-MNIST (Debian's dataset-fashion-mnist) for 5 epochs with a
# progress bar, printing per-epoch losses and accuracies, the test
# accuracy, the confusion matrix and per-class precision/recall/F1.
# report.txt and learning_curves.svg go to build/mlp-train/; the trainer
# binary is cached under ~/.cache/nnc (nnc train --help).
# Usage: scripts/main.sh [CONFIGURE-ARGS...]
set -euo pipefail

cd "$(dirname "$0")/.."
bash scripts/setup.sh "$@"

echo "== nnc train examples/mlp.nn --epochs 5 --lr-schedule cosine"
build/compiler/nnc train examples/mlp.nn --epochs 5 --lr-schedule cosine --out build/mlp-train
