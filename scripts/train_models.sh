#!/usr/bin/env bash
# Train the bundled model and every baseline/ablation variant with the same protocol, then
# evaluate them on a held-out phantom test set (seed 99, never used in training).
# ~2 h on 2 CPU cores; each command resumes from its checkpoint if interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
common=(--phantom 5000 --seed 7 --max-minutes 40 --threads 2)
"$py" -m mmcrnet train "${common[@]}" --out models
for variant in lstm-only no-imaging cnn-only no-clinical no-genomic; do
  "$py" -m mmcrnet train "${common[@]}" --variant "$variant" --out "models/variants/$variant"
done
"$py" -m mmcrnet evaluate --model models/ --phantom-test 2000 --seed 99
