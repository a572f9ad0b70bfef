"""scikit-learn's bundled 8×8 digits (docs/method.md §5): the embedded default, no download needed."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

from ssb_vae.matrices import normalize_rows
from ssb_vae.data.core import SPLIT_SEED, Dataset, Split, split_indices

TEST_PER_CLASS = 20


def load() -> Dataset:
    """x = pixels / 16; target = x normalized to sum 1; test = 20 per class; val = 10% of the rest.

    Every part is in a seeded random order (docs/method.md §5).
    """
    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    labels = bunch.target.astype(np.int64)
    rng = np.random.default_rng(SPLIT_SEED)
    test_rows = rng.permutation(np.concatenate([
        rng.choice(np.flatnonzero(labels == c), TEST_PER_CLASS, replace=False) for c in np.unique(labels)
    ]))
    rest = np.setdiff1d(np.arange(len(labels)), test_rows)
    validation_part, train_part = split_indices(len(rest), (0.1, 0.9))
    whole = Split(x, normalize_rows(x), labels)
    parts = [whole.take(rest[train_part]), whole.take(rest[validation_part]), whole.take(test_rows)]
    return Dataset("digits", *parts, classes=tuple(str(c) for c in range(10)), multilabel=False)
