#!/bin/bash
# main.sh — builds nnc (scripts/setup.sh) and runs it on the examples: the
# layer summary of examples/mlp.nn, then the IR of every example, written to
# build/examples/NAME.ir. This is everything the front end does; training
# the examples arrives with the C backend, and will be run from here.
# Usage: scripts/main.sh [CONFIGURE-ARGS...]
set -euo pipefail

cd "$(dirname "$0")/.."
bash scripts/setup.sh "$@"

NNC=build/compiler/nnc

echo "== nnc --summary examples/mlp.nn"
"$NNC" --summary examples/mlp.nn

mkdir -p build/examples
for f in examples/*.nn; do
  [ -e "$f" ] || continue
  out=build/examples/$(basename "${f%.nn}").ir
  "$NNC" --emit=ir "$f" >"$out"
  echo "== nnc --emit=ir $f > $out ($(wc -l <"$out") lines)"
done
