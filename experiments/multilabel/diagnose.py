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

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import ssb_vae  # noqa: E402
from ssb_vae import losses  # noqa: E402
from ssb_vae.data import load_dataset  # noqa: E402
from ssb_vae.presets import DEFAULTS  # noqa: E402

SAMPLE = 2000


def label_model(model) -> keras.Model:
    """x → predicted label probabilities (the head on the encoder trunk), sharing the weights."""
    trunk = model.get_layer("encoder_bn_2").output
    return keras.Model(model.get_layer("x").output, keras.activations.sigmoid(model.get_layer("label_head")(trunk)))


class Measure(keras.callbacks.Callback):
    def __init__(self, x, labels, labelled, similarity):
        super().__init__()
        rng = np.random.default_rng(0)
        unlabelled = np.flatnonzero(~labelled)
        self.sample = x[rng.choice(unlabelled, min(SAMPLE, len(unlabelled)), replace=False)]
        self.labelled_labels = labels[labelled][:SAMPLE].astype(np.float32)
        self.x, self.similarity, self.rows = x, similarity, []

    def on_epoch_end(self, epoch, logs=None):
        probs = label_model(self.model).predict(self.sample.toarray(), verbose=0, batch_size=500)
        similar = getattr(losses, f"{self.similarity}_similarity")
        among = np.asarray(similar(probs))
        mixed = np.asarray(similar(np.concatenate([probs, self.labelled_labels])))[: len(probs), len(probs):]
        codes = ssb_vae.hash_codes(self.model, self.x)
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()},
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
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--alpha", type=float, default=None, help="default: the package default of the method")
    parser.add_argument("--beta", type=float, default=None)
    parser.add_argument("--gamma", type=float, default=None)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    data = load_dataset("20news-multilabel", data_dir=args.data_dir, download=False)
    supervised = data.with_supervision(args.level, seed=args.seed)
    db = supervised.database
    keras.utils.set_random_seed(args.seed)
    weights = {name: getattr(args, name) if getattr(args, name) is not None else value
               for name, value in DEFAULTS[args.method].items()}
    print(f"{args.method}, similarity {args.similarity}, level {args.level}, {args.bits} bits, {weights}", flush=True)
    model = ssb_vae.build_model(args.method, input_dim=data.n_features, n_bits=args.bits,
                                n_classes=len(data.classes), multilabel=True, similarity=args.similarity,
                                seed=args.seed, **weights)
    measure = Measure(db.x, db.labels, supervised.labelled, args.similarity)
    ssb_vae.train(model, db.x, target=db.target, labels=db.labels, labelled=supervised.labelled,
                  epochs=args.epochs, seed=args.seed, verbose=0, callbacks=[measure])
    pd.DataFrame(measure.rows).to_csv(args.out, index=False, float_format="%.6g")


if __name__ == "__main__":
    main()
