#!/usr/bin/env bash
# The quality parity of the fast path (issue 23): `--fast` (CSR batches, the split step, lazy
# first-layer Adam) against the exact rows of the paper-preset study, cell by cell. 20 Newsgroups
# and Snippets × VDSH-S, PHS-GS, SSB-VAE × 16 bits × levels 0.1, 0.5, 1.0 × seeds 20, 144, 1028,
# paper preset, 30 epochs: 54 runs, codes in results/fast_parity/<dataset>_codes/. Resumable (each
# command skips the runs already in its CSV); then the parity table.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/data}

for reps in 1 2 3; do
  for dataset in snippets 20news; do
    python run_experiments.py --dataset "$dataset" --methods vdsh-s phs-gs ssb-vae --bits 16 \
      --levels 0.1 0.5 1.0 --reps "$reps" --epochs 30 --preset paper --fast \
      --data-dir "$DATA" --jobs 2 --no-report --out "results/fast_parity/$dataset.csv"
  done
done
python -m experiments.fast_parity.compare
