#!/usr/bin/env bash
# The validated presets (docs/method.md §9): 20 Newsgroups and Snippets × VDSH-S, PHS-GS, SSB-VAE
# × 16 bits × levels 0.1–0.5 and 1.0, realistic protocol, 16 trials per cell, cells two at a time,
# the lowest level first (so that a partial tune holds whole levels).
# Resumable: run it again and every cell continues up to 16 trials (a kill loses the trials in
# flight). Writes results/validated/preset.csv, preset.db (the Optuna storage), preset_trials.csv
# and preset_plots/.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/data}
for level in 0.1 0.2 0.3 0.4 0.5 1.0; do
  python -m ssb_vae.tune --dataset 20news snippets --methods ssb-vae phs-gs vdsh-s --bits 16 \
      --levels "$level" --trials 16 --epochs 30 --protocol realistic --jobs 2 \
      --data-dir "$DATA" --out results/validated/preset.csv "$@"
done
