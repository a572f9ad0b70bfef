"""Text to sparse features (docs/method.md §5): TF-IDF for newsgroup-like corpora, log-tf for snippets.

Vectorizers are scikit-learn's, fitted on the training part only and kept with the dataset as a
``TextPipeline`` (saved beside a model, so that it can hash raw text); everything stays CSR.
"""

from __future__ import annotations

import numpy as np

from ssb_vae.data.core import Dataset, Split, split_indices, storage_order
from ssb_vae.data.pipeline import TextPipeline
from ssb_vae.matrices import normalize_rows

MAX_FEATURES = 10000  # docs/method.md §5: the vocabulary of every text dataset unless max_features is given
TFIDF_SETTINGS = {"max_features": MAX_FEATURES, "stop_words": "english"}
SNIPPET_SETTINGS = {
    "max_features": 10000,
    "ngram_range": (1, 3),
    "stop_words": "english",
    "min_df": 1,
    "max_df": 0.8,
    "lowercase": True,
}
PART_NAMES = ("train", "validation", "test")


def minimum_items(fractions) -> int:
    """The fewest items whose split (``split_indices``) leaves no part empty."""
    n = len(fractions)
    while not all(len(part) for part in split_indices(n, fractions, seed=0)):
        n += 1
    return n


def with_max_features(settings: dict, max_features: int) -> dict:
    """Vectorizer ``settings`` with another vocabulary size; a ValueError unless it is a positive int."""
    if isinstance(max_features, bool) or not isinstance(max_features, int) or max_features < 1:
        raise ValueError(f"max_features must be a positive integer, got {max_features!r}")
    return {**settings, "max_features": max_features}


def tfidf_dataset(
    name: str,
    texts: list[str],
    labels: np.ndarray,
    classes,
    multilabel: bool,
    fractions=(0.6, 0.2, 0.2),
    parts: list[np.ndarray] | None = None,
    settings: dict = TFIDF_SETTINGS,
) -> Dataset:
    """Splits ``texts`` (at random with a fixed seed, or by the given ``parts``: row indices of
    train, validation, test), fits TF-IDF on train and drops the rows that are empty after it.

    x = TF-IDF over the most frequent terms; target = x normalized to sum 1 (docs/method.md §5, `20news`).
    Given parts are stored in a seeded random order, like split ones (docs/method.md §5).
    """
    texts = np.asarray(texts, dtype=object)
    if parts is None:
        needed = minimum_items(fractions)
        if len(texts) < needed:
            raise ValueError(
                f"{name} has {len(texts)} documents: its {'/'.join(f'{100 * f:g}' for f in fractions)} "
                f"train/validation/test split needs at least {needed}, so that every part holds one"
            )
        parts = split_indices(len(texts), fractions)
    else:
        parts = [np.asarray(rows)[storage_order(len(rows), f"{name}/{part}")] for part, rows in zip(PART_NAMES, parts)]
    pipeline = TextPipeline.fit("tfidf", settings, texts[parts[0]])
    splits, dropped = [], []
    for part, rows in zip(PART_NAMES, parts):
        x = pipeline.transform(texts[rows])
        kept = np.flatnonzero(x.getnnz(axis=1) > 0)
        if kept.size == 0:
            raise ValueError(f"{name}: every {part} document is empty once vectorized; give more or longer documents")
        x = x[kept]
        splits.append(Split(x, normalize_rows(x), labels[rows][kept]))
        dropped.append(len(rows) - kept.size)
    return Dataset(name, *splits, classes=tuple(classes), multilabel=multilabel, text_pipeline=pipeline,
                   dropped=tuple(dropped))


def snippet_features(train_texts, other_texts: list, settings: dict = SNIPPET_SETTINGS) -> tuple[TextPipeline, list[tuple]]:
    """The fitted pipeline, and (x, target) per part: x = log(1 + tf), target = tf normalized to
    sum 1 (docs/method.md §5, `snippets`)."""
    pipeline = TextPipeline.fit("log-tf", settings, train_texts)
    counts = [pipeline.vectorize(texts) for texts in [train_texts, *other_texts]]
    return pipeline, [(pipeline.to_input(tf), normalize_rows(tf)) for tf in counts]
