"""The structure every loader returns, and the semi-supervised protocol of docs/method.md §5."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

import numpy as np
import scipy.sparse as sp

SPLIT_SEED = 0  # the fixed seed of every dataset's train/validation/test split (docs/method.md §5)


@dataclass(frozen=True)
class Split:
    """One part of a dataset: model input ``x``, reconstruction ``target`` and ``labels``.

    ``x`` and ``target`` are CSR matrices for text, dense arrays otherwise. ``labels`` are class
    indices (1-D) for single-label data, a 0/1 matrix (items × classes) for multi-label data.
    """

    x: object
    target: object
    labels: np.ndarray

    def __post_init__(self):
        sizes = {self.x.shape[0], self.target.shape[0], self.labels.shape[0]}
        if len(sizes) != 1:
            raise ValueError(
                f"x, target and labels must have one row per item, got {self.x.shape[0]}, "
                f"{self.target.shape[0]} and {self.labels.shape[0]} rows"
            )

    def __len__(self) -> int:
        return self.x.shape[0]

    def take(self, rows) -> "Split":
        return Split(self.x[rows], self.target[rows], self.labels[rows])

    @staticmethod
    def concatenate(first: "Split", second: "Split") -> "Split":
        return Split(
            _stack(first.x, second.x), _stack(first.target, second.target), _stack(first.labels, second.labels)
        )


def _stack(top, bottom):
    if sp.issparse(top):
        return sp.csr_matrix(sp.vstack([top, bottom]))
    return np.concatenate([top, bottom])


@dataclass(frozen=True)
class Dataset:
    """A dataset in three parts; the retrieval database is train ∪ validation (docs/method.md §5)."""

    name: str
    train: Split
    validation: Split
    test: Split
    classes: tuple
    multilabel: bool
    text_pipeline: object = None  # a TextPipeline for text datasets: raw text → x
    dropped: tuple = (0, 0, 0)  # documents of train, validation, test left out: no term once vectorized

    @cached_property
    def database(self) -> Split:
        """Training then validation items: what models are fitted on and what queries search."""
        return Split.concatenate(self.train, self.validation)

    @property
    def queries(self) -> Split:
        return self.test

    @property
    def n_features(self) -> int:
        return self.train.x.shape[1]

    def with_supervision(self, level: float, seed: int) -> "Supervised":
        """Keeps the labels of ⌊level·n⌋ shuffled items of train, and separately of validation."""
        level = check_level(level)
        rng = np.random.default_rng(seed)
        masks = [labelled_mask(len(part), level, rng) for part in (self.train, self.validation)]
        return Supervised(self, level, seed, np.concatenate(masks))

    def summary(self) -> str:
        kind = "multi-label" if self.multilabel else "single-label"
        return (
            f"{self.name}: {len(self.train)} train / {len(self.validation)} validation / "
            f"{len(self.test)} test items, {self.n_features} features, "
            f"{len(self.classes)} classes ({kind})"
        )

    def dropped_note(self) -> str | None:
        """A sentence on the documents left out for having no term, or None when there are none."""
        if not any(self.dropped):
            return None
        counts = ", ".join(f"{n} {part}" for n, part in zip(self.dropped, ("train", "validation", "test")) if n)
        return (f"{self.name}: left out {sum(self.dropped)} document(s) with no term of the vocabulary "
                f"({counts}); they have no features to learn from or to hash")


@dataclass(frozen=True)
class Supervised:
    """A dataset at supervision level p: ``labelled`` marks the database items whose labels count."""

    dataset: Dataset
    level: float
    seed: int
    labelled: np.ndarray

    @property
    def database(self) -> Split:
        return self.dataset.database

    @property
    def queries(self) -> Split:
        return self.dataset.queries


def check_level(level) -> float:
    level = float(level)
    if not 0.0 < level <= 1.0:
        raise ValueError(f"the supervision level must lie in (0, 1], got {level}")
    return level


def labelled_count(n_items: int, level: float) -> int:
    """⌊level·n⌋ computed on the decimal level (0.3·10 is 3, not 2.999…)."""
    return math.floor(Fraction(repr(float(level))) * n_items)


def labelled_mask(n_items: int, level: float, rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros(n_items, dtype=bool)
    mask[rng.permutation(n_items)[: labelled_count(n_items, level)]] = True
    return mask


def split_indices(n_items: int, fractions: tuple, seed: int = SPLIT_SEED) -> list[np.ndarray]:
    """A seeded random partition of range(n_items) into consecutive parts of the given fractions.

    Each part keeps the order of the permutation (docs/method.md §5: never sorted, so that the storage order
    of a part says nothing about its labels).
    """
    order = np.random.default_rng(seed).permutation(n_items)
    bounds = np.cumsum([math.floor(f * n_items) for f in fractions[:-1]])
    return np.split(order, bounds)


def storage_order(n_items: int, part: str) -> np.ndarray:
    """The fixed random order in which a part given as a whole (a test file, a .mat matrix) is
    stored (docs/method.md §5); ``part`` names it, so that each part gets an order of its own."""
    return np.random.default_rng([SPLIT_SEED, zlib.crc32(part.encode())]).permutation(n_items)
