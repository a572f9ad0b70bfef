"""What a tuning trial pays besides its epochs: 20 Newsgroups SSB-VAE, 16 bits, level 0.1, the
realistic protocol, for the default path and ``--fast``.

    python bench/trial_overhead.py [--epochs 6]

Each path runs in its own process, one after the other, through the runner (``run_point``) with the
tuner's epoch hook at epoch 5 (the codes of the database and queries, the validation score, the
codes of the whole training part for the collapse rule). Printed: the dataset load, the time to
the end of epoch 1 less a steady epoch (building, tracing and compiling: what every trial pays
once), the median steady epoch, one scoring step, and the final hashing and evaluation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PATHS = {"default (dense batches, XLA)": "adam", "--fast (CSR, split step, lazy first-layer Adam)": "lazy-adam"}
SCORED_EPOCH = 5


def measure(optimizer: str, epochs: int) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(ROOT))
    from ssb_vae.runner import GridPoint, run_point, score_codes
    from ssb_vae.training import hash_codes
    from ssb_vae.tuning import distinct_share

    options = (("sparse_inputs", True),) if optimizer == "lazy-adam" else ()
    point = GridPoint("20news", "ssb-vae", 16, 0.1, 0, alpha=5e-4, beta=0.015625, gamma=900, epochs=epochs,
                      batch_size=100, data_dir=str(SHARED), protocol="realistic", model_options=options,
                      optimizer=optimizer)
    started = time.perf_counter()
    point.load()  # cached after the first call, as in a tune
    load = time.perf_counter() - started
    ends, scoring = [], []

    def hook(checkpoint) -> None:
        ends.append(time.perf_counter())
        if checkpoint.epoch == SCORED_EPOCH:
            begun = time.perf_counter()
            score_codes(*checkpoint.codes(), checkpoint.parts, checkpoint.data, "p@100", checkpoint.point)
            distinct_share(hash_codes(checkpoint.model, checkpoint.parts.fit.x))
            scoring.append(time.perf_counter() - begun)
            ends[-1] = time.perf_counter()  # the next epoch starts after the scoring

    started = time.perf_counter()
    outcome = run_point(point, epoch_hook=hook)
    epochs_seconds = [later - earlier for earlier, later in zip(ends, ends[1:])]
    steady = statistics.median(epochs_seconds)
    return {"load_s": load, "first_epoch_overhead_s": ends[0] - started - steady, "epoch_s": steady,
            "scoring_s": scoring[0], "final_eval_s": outcome.row["eval_seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.epochs)))
        return
    if args.epochs <= SCORED_EPOCH:
        parser.error(f"--epochs must exceed {SCORED_EPOCH}, the scored epoch")
    print(f"20news ssb-vae 16 bits level 0.1, realistic protocol, {args.epochs} epochs, {os.cpu_count()} cores\n")
    print("| path | dataset load | first epoch less a steady one | steady epoch | a scoring step | "
          "final hashing + evaluation |\n|---|---|---|---|---|---|")
    for name, optimizer in PATHS.items():
        done = subprocess.run([sys.executable, __file__, "--child", optimizer, "--epochs", str(args.epochs)],
                              capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"| {name} | {row['load_s']:.1f} s | {row['first_epoch_overhead_s']:.1f} s | {row['epoch_s']:.2f} s "
              f"| {row['scoring_s']:.2f} s | {row['final_eval_s']:.2f} s |", flush=True)


if __name__ == "__main__":
    main()
