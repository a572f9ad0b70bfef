"""Text to sparse features (SPEC §5): TF-IDF for newsgroup-like corpora, log-tf for snippets.

Vectorizers are scikit-learn's and are fitted on the training part only; everything stays CSR.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from ssb_vae.matrices import normalize_rows
from ssb_vae.data.core import Dataset, Split, split_indices

TFIDF_SETTINGS = {"max_features": 10000, "stop_words": "english"}
SNIPPET_SETTINGS = {
    "max_features": 10000,
    "ngram_range": (1, 3),
    "stop_words": "english",
    "min_df": 1,
    "max_df": 0.8,
    "lowercase": True,
}


def snippet_tokens(text: str) -> list[str]:
    """Whitespace tokens stripped of ``-``/``_``, longer than 2 characters, not starting with a digit."""
    tokens = (token.strip("-_") for token in text.split())
    return [token for token in tokens if len(token) > 2 and not token[0].isdigit()]


def tfidf_dataset(
    name: str,
    texts: list[str],
    labels: np.ndarray,
    classes,
    multilabel: bool,
    fractions=(0.6, 0.2, 0.2),
) -> Dataset:
    """Pools ``texts``, splits them at random (fixed seed), fits TF-IDF on train, drops empty rows.

    x = TF-IDF over the most frequent terms; target = x normalized to sum 1 (SPEC §5, `20news`).
    """
    texts = np.asarray(texts, dtype=object)
    needed = minimum_items(fractions)
    if len(texts) < needed:
        raise ValueError(
            f"{name} has {len(texts)} documents: its {'/'.join(f'{100 * f:g}' for f in fractions)} "
            f"train/validation/test split needs at least {needed}, so that every part holds one"
        )
    parts = split_indices(len(texts), fractions)
    vectorizer = TfidfVectorizer(**TFIDF_SETTINGS, dtype=np.float32)
    try:
        vectorizer.fit(texts[parts[0]])
    except ValueError as error:  # scikit-learn: "empty vocabulary"
        raise ValueError(f"{name}: no words are left in its training documents once English stop "
                         f"words are removed ({error})") from None
    splits = []
    for part, rows in zip(("train", "validation", "test"), parts):
        x = sp.csr_matrix(vectorizer.transform(texts[rows]))
        kept = np.flatnonzero(x.getnnz(axis=1) > 0)
        if kept.size == 0:
            raise ValueError(f"{name}: every {part} document is empty once vectorized; give more or longer documents")
        x = x[kept]
        splits.append(Split(x, normalize_rows(x), labels[rows][kept]))
    return Dataset(name, *splits, classes=tuple(classes), multilabel=multilabel)


def minimum_items(fractions) -> int:
    """The fewest items whose split (``split_indices``) leaves no part empty."""
    n = len(fractions)
    while not all(len(part) for part in split_indices(n, fractions, seed=0)):
        n += 1
    return n


def snippet_features(train_texts, other_texts: list) -> list[tuple]:
    """(x, target) per part: x = log(1 + tf), target = tf normalized to sum 1 (SPEC §5, `snippets`)."""
    vectorizer = CountVectorizer(**SNIPPET_SETTINGS, tokenizer=snippet_tokens, token_pattern=None, dtype=np.float32)
    counts = [vectorizer.fit_transform(train_texts)] + [vectorizer.transform(t) for t in other_texts]
    features = []
    for tf in counts:
        tf = sp.csr_matrix(tf, dtype=np.float32)
        features.append((tf.log1p(), normalize_rows(tf)))
    return features
