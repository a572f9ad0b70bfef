#!/usr/bin/env bash
# The study of results/README.md: every row of results/*.csv comes from these commands.
# Resumable: each command skips the runs already in its CSV. Order: one repetition of everything;
# then a second repetition of the low-level comparison (PHS-GS vs SSB-VAE at 0.1 and 0.3); then
# the second repetition of everything else; then the finer levels 0.2 and 0.4, one repetition of
# both datasets before the second.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
COMMON=(--bits 16 32 --epochs 30 --preset paper --data-dir "$DATA" --jobs 2)
ALL=(--methods vdsh-s phs-gs ssb-vae --levels 0.1 0.3 0.5 1.0 "${COMMON[@]}")
FINE=(--methods vdsh-s phs-gs ssb-vae --levels 0.2 0.4 "${COMMON[@]}")
LOW=(--methods phs-gs ssb-vae --levels 0.1 0.3 "${COMMON[@]}")
for dataset in snippets 20news; do
  python run_experiments.py --dataset "$dataset" "${ALL[@]}" --reps 1 --out "results/$dataset.csv"
done
for dataset in snippets 20news; do
  python run_experiments.py --dataset "$dataset" "${LOW[@]}" --reps 2 --out "results/$dataset.csv"
done
for dataset in snippets 20news; do
  python run_experiments.py --dataset "$dataset" "${ALL[@]}" --reps 2 --out "results/$dataset.csv"
done
for reps in 1 2; do
  for dataset in snippets 20news; do
    python run_experiments.py --dataset "$dataset" "${FINE[@]}" --reps "$reps" --out "results/$dataset.csv"
  done
done
