#!/usr/bin/env bash
# The study of results/README.md: every row of results/*.csv comes from these commands.
# Resumable: each command skips the runs already in its CSV. First one repetition of everything,
# then the second, so an interrupted study still covers every cell once.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
GRID=(--methods vdsh-s phs-gs ssb-vae --bits 16 32 --levels 0.1 0.3 0.5 1.0 --epochs 30 --preset paper --data-dir "$DATA" --jobs 2)
for reps in 1 2; do
  python run_experiments.py --dataset snippets "${GRID[@]}" --reps "$reps" --out results/snippets.csv
  python run_experiments.py --dataset 20news "${GRID[@]}" --reps "$reps" --out results/20news.csv
done
