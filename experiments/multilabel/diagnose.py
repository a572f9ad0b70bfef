"""Why SSB-VAE collapses on multi-label data: per-epoch measurements of one training run.

For 20 Newsgroups relabelled as multi-label (group + hierarchy root), one method at one level,
prints and writes as CSV, after every epoch: each loss term; on 2,000 unlabelled training items,
the predicted label probabilities (mean, share above 0.5, predicted cardinality Σ_c ŷ_c); the
similarity S among them and between them and the labelled items (mean, share above 1); and the
number of distinct database codes.

    python -m experiments.multilabel.diagnose --method ssb-vae --similarity dot --level 0.1 --out X.csv
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ssb_vae import losses  # noqa: E402
from ssb_vae.backend import keras  # noqa: E402
from ssb_vae.presets import DEFAULTS  # noqa: E402
from ssb_vae.runner import SEEDS, GridPoint, canonical_options, run_point  # noqa: E402
from ssb_vae.training import hash_codes  # noqa: E402

SAMPLE = 2000


def label_model(model) -> keras.Model:
    """x → predicted label probabilities (the head on the encoder trunk), sharing the weights."""
    trunk = model.get_layer("encoder_bn_2").output
    return keras.Model(model.get_layer("x").output, keras.activations.sigmoid(model.get_layer("label_head")(trunk)))


class Measure:
    """The epoch hook of the run: one row of measurements after every epoch."""

    def __init__(self, similarity: str):
        self.similarity, self.rows, self.sample = similarity, [], None

    def __call__(self, checkpoint) -> None:
        fit, labelled = checkpoint.parts.fit, checkpoint.parts.labelled
        if self.sample is None:
            unlabelled = np.flatnonzero(~labelled)
            chosen = np.random.default_rng(0).choice(unlabelled, min(SAMPLE, len(unlabelled)), replace=False)
            self.sample = fit.x[chosen].toarray()
            self.labelled_labels = fit.labels[labelled][:SAMPLE].astype(np.float32)
        probs = label_model(checkpoint.model).predict(self.sample, verbose=0, batch_size=500)
        similar = getattr(losses, f"{self.similarity}_similarity")
        among = np.asarray(similar(probs))
        mixed = np.asarray(similar(np.concatenate([probs, self.labelled_labels])))[: len(probs), len(probs):]
        codes = hash_codes(checkpoint.model, fit.x)
        row = {"epoch": checkpoint.epoch, **{k: float(v) for k, v in checkpoint.logs.items()},
               "prob_mean": float(probs.mean()), "prob_above_half": float((probs > 0.5).mean()),
               "cardinality_mean": float(probs.sum(axis=1).mean()),
               "S_unlabelled_mean": float(among.mean()), "S_unlabelled_above_1": float((among > 1).mean()),
               "S_with_labelled_mean": float(mixed.mean()), "distinct_codes": len(np.unique(codes, axis=0))}
        self.rows.append(row)
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--method", default="ssb-vae")
    parser.add_argument("--similarity", choices=["dot", "jaccard"], default="dot")
    parser.add_argument("--level", type=float, default=0.1)
    parser.add_argument("--bits", type=int, default=16)
    parser.add_argument("--seed", type=int, choices=SEEDS, default=SEEDS[0], help="one of the runner's seeds")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--alpha", type=float, default=None, help="default: the package default of the method")
    parser.add_argument("--beta", type=float, default=None)
    parser.add_argument("--gamma", type=float, default=None)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    weights = {name: getattr(args, name) if getattr(args, name) is not None else value
               for name, value in DEFAULTS[args.method].items()}
    print(f"{args.method}, similarity {args.similarity}, level {args.level}, {args.bits} bits, {weights}", flush=True)
    point = GridPoint(dataset="20news-multilabel", method=args.method, bits=args.bits, level=args.level,
                      repetition=SEEDS.index(args.seed), epochs=args.epochs, batch_size=100, data_dir=args.data_dir,
                      model_options=canonical_options([("similarity", args.similarity)]), **weights)
    measure = Measure(args.similarity)
    run_point(point, epoch_hook=measure)
    pd.DataFrame(measure.rows).to_csv(args.out, index=False, float_format="%.6g")


if __name__ == "__main__":
    main()
