#!/usr/bin/env bash
# The study of results/paper_preset/README.md (issue 15): every row of results/paper_preset/20news.csv and
# results/paper_preset/snippets.csv comes from these commands. SSB-VAE, PHS-GS and VDSH-S at 16 and 32 bits,
# levels 0.1-0.5 and 1.0, paper preset, 30 epochs, three repetitions (seeds 20, 144, 1028), tie-aware
# metrics, every run's codes stored in results/paper_preset/<dataset>_codes/.
# Resumable: each command skips the runs already in its CSV, so running this script again runs
# only what is missing. Order: one repetition of everything (Snippets first: it is faster), then
# the second, then the third.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/data}

for reps in 1 2 3; do
  for dataset in snippets 20news; do
    python run_experiments.py --dataset "$dataset" --methods vdsh-s phs-gs ssb-vae --bits 16 32 \
      --levels 0.1 0.2 0.3 0.4 0.5 1.0 --reps "$reps" --epochs 30 --preset paper \
      --data-dir "$DATA" --jobs 2 --out "results/paper_preset/$dataset.csv"
  done
done

# The check of the Snippets collapse (its α) is a study of its own: experiments/snippets_alpha/run_check.sh.

# Tables (mean, std, mean ± std, drop from 1.0 to 0.1, SSB-VAE against the others), plots, the
# codes summary, the storage-order artifact of every row and the change from the superseded
# tables, from the CSVs and stored codes (no training).
for dataset in snippets 20news; do
  python -m ssb_vae.report "results/paper_preset/$dataset.csv" --metric p@100 map@100 --codes
  python -m experiments.paper_preset.forensics "results/paper_preset/$dataset.csv" --artifact \
    --superseded "results/paper_preset/superseded/$dataset.csv"
done
