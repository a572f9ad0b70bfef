#!/usr/bin/env bash
# The check of the Snippets collapse under the paper preset (results/paper_preset/README.md §5):
# SSB-VAE at 16 bits with the α and γ the paper preset uses at level 0.1 (α = 1e-4, γ = 1e4) at
# every other level, the paper-preset study's three seeds. Resumable; then its tables, plots and
# codes summary, in results/snippets_alpha/.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/data}
python run_experiments.py --dataset snippets --methods ssb-vae --bits 16 --levels 0.2 0.3 0.4 0.5 1.0 \
  --reps 3 --epochs 30 --preset paper --alpha 0.0001 --gamma 10000 --data-dir "$DATA" --jobs 2 \
  --out results/snippets_alpha/snippets_ssb_vae_low_alpha.csv --no-report
python -m ssb_vae.report results/snippets_alpha/snippets_ssb_vae_low_alpha.csv --metric p@100 map@100 --codes
