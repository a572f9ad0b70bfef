"""A user's own corpus: a CSV/TSV with a text column and a label column, through the TF-IDF pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import MultiLabelBinarizer

from ssb_vae.data.cache import cache_key, cached
from ssb_vae.data.core import Dataset
from ssb_vae.data.text import TFIDF_SETTINGS, tfidf_dataset


def _separator(path: Path) -> str:
    return "\t" if path.suffix.lower() == ".tsv" else ","


def _check_labels(path: Path, label_column: str, label_sets: list[list[str]]) -> None:
    empty = [number for number, labels in enumerate(label_sets, start=2) if not labels]
    if empty:
        lines = ", ".join(map(str, empty[:5])) + (" …" if len(empty) > 5 else "")
        raise ValueError(
            f"{path}: {len(empty)} row(s) have an empty {label_column!r} cell (lines {lines}); give "
            "every document a label, or remove those rows"
        )
    classes = {label for labels in label_sets for label in labels}
    if len(classes) < 2:
        raise ValueError(
            f"{path}: every document has the class {next(iter(classes))!r}; retrieval by class needs "
            "at least two classes"
        )


def _dataset(path: Path, text_column: str, label_column: str, label_delimiter: str | None) -> Dataset:
    table = pd.read_csv(path, sep=_separator(path), dtype=str, keep_default_na=False)
    missing = [c for c in (text_column, label_column) if c not in table.columns]
    if missing:
        raise ValueError(
            f"{path} has no column {', '.join(map(repr, missing))}; its columns are "
            f"{', '.join(map(repr, table.columns))} (set text_column / label_column)"
        )
    texts = table[text_column].tolist()
    cells = table[label_column].str.strip()
    if label_delimiter is None:
        _check_labels(path, label_column, [[cell] if cell else [] for cell in cells])
        classes, labels = np.unique(cells.to_numpy(), return_inverse=True)
        return tfidf_dataset(path.stem, texts, labels.astype(np.int64), classes, multilabel=False)
    label_sets = [[s.strip() for s in cell.split(label_delimiter) if s.strip()] for cell in cells]
    _check_labels(path, label_column, label_sets)
    binarizer = MultiLabelBinarizer()
    matrix = binarizer.fit_transform(label_sets).astype(np.uint8)
    return tfidf_dataset(path.stem, texts, matrix, binarizer.classes_, multilabel=True)


def load(
    path,
    cache_dir: Path | None,
    text_column: str = "text",
    label_column: str = "label",
    label_delimiter: str | None = None,
) -> Dataset:
    """Random 60/20/20 split (fixed seed), TF-IDF fitted on train, as for 20 Newsgroups.

    With ``label_delimiter`` (e.g. ``"|"``) the label cells hold several classes: multi-label.
    """
    path = Path(path)
    settings = {
        "vectorizer": TFIDF_SETTINGS,
        "columns": (text_column, label_column, label_delimiter),
        "separator": _separator(path),  # a .csv and a .tsv of the same bytes parse differently
    }
    build = lambda: _dataset(path, text_column, label_column, label_delimiter)  # noqa: E731
    return cached(cache_dir, cache_key(path.stem, [path], settings), build)
