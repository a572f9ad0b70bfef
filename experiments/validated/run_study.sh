#!/usr/bin/env bash
# The study under the validated presets (issue 22): SSB-VAE, PHS-GS and VDSH-S on 20 Newsgroups and
# Snippets, 16 bits, three repetitions (seeds 20, 144, 1028), 30 epochs, the test protocol, with
# α, β, γ from results/validated/preset.csv; every run's codes in results/validated/<dataset>_codes/.
# Levels as arguments (default: all six), so that a level can run as soon as the tune has
# finished its cells (the runner refuses a preset that lacks a cell). Resumable: each command
# skips the runs already in its CSV. Then the tables and the comparison with the paper preset.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/data}
LEVELS=("$@")
[ ${#LEVELS[@]} -gt 0 ] || LEVELS=(0.1 0.2 0.3 0.4 0.5 1.0)

for reps in 1 2 3; do
  for dataset in snippets 20news; do
    python run_experiments.py --dataset "$dataset" --methods vdsh-s phs-gs ssb-vae --bits 16 \
      --levels "${LEVELS[@]}" --reps "$reps" --epochs 30 --preset results/validated/preset.csv \
      --data-dir "$DATA" --jobs 2 --no-report --out "results/validated/$dataset.csv"
  done
done

for dataset in snippets 20news; do
  python -m ssb_vae.report "results/validated/$dataset.csv" --metric p@100 map@100 --codes
done
python -m experiments.validated.compare
