#!/usr/bin/env bash
# The study of results/README.md: every row of results/*.csv comes from these commands.
# Resumable: each command skips the runs already in its CSV. Order: one repetition of everything;
# then a second repetition of the low-level comparison (PHS-GS vs SSB-VAE at 0.1 and 0.3); then
# the second repetition of everything else; then the finer levels 0.2 and 0.4, one repetition of
# both datasets before the second.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}

both_datasets() {
  for dataset in snippets 20news; do
    python run_experiments.py --dataset "$dataset" "$@" --bits 16 32 --epochs 30 --preset paper \
      --data-dir "$DATA" --jobs 2 --out "results/$dataset.csv"
  done
}

ALL_METHODS=(--methods vdsh-s phs-gs ssb-vae)
both_datasets "${ALL_METHODS[@]}" --levels 0.1 0.3 0.5 1.0 --reps 1
both_datasets --methods phs-gs ssb-vae --levels 0.1 0.3 --reps 2
both_datasets "${ALL_METHODS[@]}" --levels 0.1 0.3 0.5 1.0 --reps 2
both_datasets "${ALL_METHODS[@]}" --levels 0.2 0.4 --reps 1
both_datasets "${ALL_METHODS[@]}" --levels 0.2 0.4 --reps 2
