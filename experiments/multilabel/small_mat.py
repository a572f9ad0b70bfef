"""The small multi-label .mat of tests/test_multilabel.py (3,000 / 300 / 500 posts of 20 Newsgroups
relabelled as multi-label), SSB-VAE at 16 bits, 10% labels, TMC weights, seed 20: distinct
database codes and P@100 after 15 and 30 epochs for the default and the named alternatives.

    python -m experiments.multilabel.small_mat [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import scipy.io  # noqa: E402

from ssb_vae.data import load_dataset  # noqa: E402
from ssb_vae.runner import GridPoint, canonical_options, run_point  # noqa: E402

VARIANTS = {"default (soft Jaccard + confidence weights)": {},
            "soft Jaccard alone": {"confidence_weighted": False},
            "reference (S = Ŷ Ŷᵀ, unweighted)": {"similarity": "dot", "confidence_weighted": False},
            "S = Ŷ Ŷᵀ + confidence weights": {"similarity": "dot"}}
TMC_SSB_VAE = {"alpha": 0.001, "beta": 0.000244, "gamma": 10000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="../shared/data")
    args = parser.parse_args()
    full = load_dataset("20news-multilabel", data_dir=args.data_dir, download=False)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ng20ml_small.mat"
        scipy.io.savemat(path, {"train": full.train.x[:3000], "cv": full.validation.x[:300], "test": full.test.x[:500],
                                "gnd_train": full.train.labels[:3000], "gnd_cv": full.validation.labels[:300],
                                "gnd_test": full.test.labels[:500]})
        print("| epochs | SSB-VAE | distinct codes, % of 3,300 | P@100 |\n|---|---|---|---|")
        for epochs in (15, 30):
            for name, options in VARIANTS.items():
                point = GridPoint(dataset=str(path), method="ssb-vae", bits=16, level=0.1, repetition=0,
                                  epochs=epochs, batch_size=100, data_dir=".", cache_dir=str(Path(folder) / "cache"),
                                  model_options=canonical_options(options.items()), **TMC_SSB_VAE)
                outcome = run_point(point)
                codes = outcome.codes.db_codes
                distinct = 100 * len(np.unique(codes, axis=0)) / len(codes)
                print(f"| {epochs} | {name} | {distinct:.1f} | {outcome.row['p@100']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
