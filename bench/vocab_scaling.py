"""Training cost against the vocabulary: 20 Newsgroups at 10k, 30k and 100k features, the default
path and ``--fast``, each in its own process (ssb-vae, 16 bits, batch 100, the database at level 0.1).

    python bench/vocab_scaling.py [--epochs 5] [--features 10000 30000 100000]

Prints s/epoch (median of the epochs after the first), ms/step and peak resident memory, and for
each path its cost at every size relative to its own cost at the smallest.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PATHS = {"default (dense batches, XLA)": ({}, {}),
         "--fast (CSR, split step, lazy first-layer Adam)": ({"sparse_inputs": True}, {"optimizer": "lazy-adam"})}


def measure(path: str, features: int, epochs: int) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import ssb_vae
    from ssb_vae.backend import keras
    from ssb_vae.data import load_dataset

    data = load_dataset("20news", data_dir=SHARED, download=False, max_features=features)
    supervised = data.with_supervision(0.1, seed=20)
    db = supervised.database
    model_options, train_options = PATHS[path]
    model = ssb_vae.build_model("ssb-vae", data.n_features, 16, len(data.classes), alpha=0.001, beta=0.015625,
                                gamma=1000, seed=20, **model_options)
    seconds = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)

    ssb_vae.train(model, db.x, target=db.target, labels=db.labels, labelled=supervised.labelled, epochs=epochs,
                  batch_size=100, verbose=0, callbacks=[Clock()], **train_options)
    epoch = statistics.median(seconds[1:])
    return {"features": data.n_features, "epoch_s": epoch, "step_ms": 1000 * epoch / -(-db.x.shape[0] // 100),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--features", nargs="+", type=int, default=[10000, 30000, 100000])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), args.epochs)))
        return
    print(f"ssb-vae, 16 bits, batch 100, 20 Newsgroups database, {args.epochs} epochs per run\n")
    print("| path | features | s/epoch | ms/step | peak memory | cost vs smallest |\n|---|---|---|---|---|---|")
    for path in PATHS:
        first = None
        for features in args.features:
            done = subprocess.run([sys.executable, __file__, "--child", path, str(features), "--epochs",
                                   str(args.epochs)], capture_output=True, text=True, check=True)
            row = json.loads(done.stdout.strip().splitlines()[-1])
            first = first or row["epoch_s"]
            print(f"| {path} | {row['features']:,} | {row['epoch_s']:.2f} | {row['step_ms']:.1f} | "
                  f"{row['peak_mb'] / 1024:.2f} GB | {row['epoch_s'] / first:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
