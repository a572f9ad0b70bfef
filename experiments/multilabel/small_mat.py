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

import keras  # noqa: E402
import numpy as np  # noqa: E402
import scipy.io  # noqa: E402

import ssb_vae  # noqa: E402
from ssb_vae.data import load_dataset  # noqa: E402
from ssb_vae.evaluation import evaluate  # noqa: E402

VARIANTS = {"default (soft Jaccard + confidence weights)": {},
            "soft Jaccard alone": {"confidence_weighted": False},
            "reference (S = Ŷ Ŷᵀ, unweighted)": {"similarity": "dot", "confidence_weighted": False},
            "S = Ŷ Ŷᵀ + confidence weights": {"similarity": "dot"}}


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
        data = load_dataset(str(path), cache=False)
    print("| epochs | SSB-VAE | distinct codes, % of 3,300 | P@100 |\n|---|---|---|---|")
    for epochs in (15, 30):
        for name, options in VARIANTS.items():
            supervised = data.with_supervision(0.1, seed=20)
            db = supervised.database
            keras.utils.set_random_seed(20)
            model = ssb_vae.build_model("ssb-vae", input_dim=data.n_features, n_bits=16, n_classes=len(data.classes),
                                        multilabel=True, seed=20, alpha=0.001, beta=0.000244, gamma=10000, **options)
            ssb_vae.train(model, db.x, target=db.target, labels=db.labels, labelled=supervised.labelled,
                          epochs=epochs, verbose=0)
            codes, queries = ssb_vae.hash_codes(model, db.x), ssb_vae.hash_codes(model, supervised.queries.x)
            scores = evaluate(codes, queries, db.labels, supervised.queries.labels, ks=(100,))
            distinct = 100 * len(np.unique(codes, axis=0)) / len(codes)
            print(f"| {epochs} | {name} | {distinct:.1f} | {scores['p@100']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
