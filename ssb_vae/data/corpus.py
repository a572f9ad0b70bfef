"""A user's own corpus: a CSV/TSV with a text column and a label column, through the TF-IDF pipeline.

Without a split column the documents are split 60/20/20 at random (fixed seed). With one (values
``train``, ``validation``, ``test``) it decides the parts; when no row says ``validation``, a
seeded 10% of the training rows becomes the validation part.
"""

from __future__ import annotations

import csv

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.preprocessing import MultiLabelBinarizer

from ssb_vae.data.cache import cache_key, cached
from ssb_vae.data.core import Dataset, split_indices
from ssb_vae.data.text import MAX_FEATURES, PART_NAMES, TFIDF_SETTINGS, tfidf_dataset, with_max_features

VALIDATION_FROM_TRAIN = 0.1


def _separator(path: Path) -> str:
    return "\t" if path.suffix.lower() == ".tsv" else ","


def read_table(path: Path) -> pd.DataFrame:
    """A .csv (commas) or .tsv (tabs) file as text cells; an empty cell stays an empty string.
    A file that is not UTF-8, or whose header names a column twice, is refused by name."""
    separator = _separator(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle, delimiter=separator), [])
        table = pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text (byte {error.start}); convert it, e.g. "
                         f"`iconv -f latin1 -t utf-8 {path.name} > utf8_{path.name}`") from None
    except pd.errors.ParserError as error:
        raise ValueError(f"{path} is not a readable {'TSV' if separator == chr(9) else 'CSV'} file ({error})") from None
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ValueError(f"{path} names the column(s) {', '.join(map(repr, repeated))} more than once; "
                         "give every column its own name")
    return table


def label_sets(cells, delimiter: str | None = None) -> list[list[str]]:
    """The labels of each cell: the cell itself, or its parts split at ``delimiter``; blanks dropped."""
    if delimiter is None:
        return [[cell.strip()] if cell.strip() else [] for cell in cells]
    return [[part.strip() for part in cell.split(delimiter) if part.strip()] for cell in cells]


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


def _parts(path: Path, cells: pd.Series) -> list[np.ndarray]:
    """Row indices of train, validation and test from the split column's cells."""
    values = cells.str.strip().str.lower()
    unknown = sorted(set(values) - set(PART_NAMES))
    if unknown:
        raise ValueError(f"{path}: the split column holds {', '.join(map(repr, unknown))}; "
                         f"its values must be {', '.join(PART_NAMES)}")
    parts = {part: np.flatnonzero(values.to_numpy() == part) for part in PART_NAMES}
    if not len(parts["validation"]) and len(parts["train"]) > 1:
        carved, kept = split_indices(len(parts["train"]), (VALIDATION_FROM_TRAIN, 1 - VALIDATION_FROM_TRAIN))
        if not len(carved):
            carved, kept = kept[:1], kept[1:]
        parts["validation"], parts["train"] = parts["train"][carved], parts["train"][kept]
    empty = [part for part in PART_NAMES if not len(parts[part])]
    if empty:
        raise ValueError(f"{path}: no row has split {' or '.join(map(repr, empty))}; every part needs "
                         "documents (validation may be left out when train has at least two)")
    return [parts[part] for part in PART_NAMES]


def _dataset(path: Path, text_column: str, label_column: str, label_delimiter: str | None,
             split_column: str, vectorizer: dict = TFIDF_SETTINGS) -> Dataset:
    table = read_table(path)
    if table.empty:
        raise ValueError(f"{path} has no documents (only a header, or nothing)")
    missing = [c for c in (text_column, label_column) if c not in table.columns]
    if missing:
        raise ValueError(
            f"{path} has no column {', '.join(map(repr, missing))}; its columns are "
            f"{', '.join(map(repr, table.columns))} (set text_column / label_column)"
        )
    texts = table[text_column].tolist()
    cells = table[label_column].str.strip()
    parts = _parts(path, table[split_column]) if split_column in table.columns else None
    sets = label_sets(cells, label_delimiter)
    _check_labels(path, label_column, sets)
    if label_delimiter is None:
        classes, labels = np.unique(cells.to_numpy(), return_inverse=True)
        return tfidf_dataset(path.stem, texts, labels.astype(np.int64), classes, multilabel=False, parts=parts,
                             settings=vectorizer)
    binarizer = MultiLabelBinarizer()
    matrix = binarizer.fit_transform(sets).astype(np.uint8)
    return tfidf_dataset(path.stem, texts, matrix, binarizer.classes_, multilabel=True, parts=parts,
                         settings=vectorizer)


def load(
    path,
    cache_dir: Path | None,
    text_column: str = "text",
    label_column: str = "label",
    label_delimiter: str | None = None,
    split_column: str = "split",
    max_features: int = MAX_FEATURES,
) -> Dataset:
    """TF-IDF fitted on train, as for 20 Newsgroups, over at most ``max_features`` terms; parts from
    ``split_column`` when the file has it, else a random 60/20/20 split (fixed seed).

    With ``label_delimiter`` (e.g. ``"|"``) the label cells hold several classes: multi-label.
    """
    path = Path(path)
    vectorizer = with_max_features(TFIDF_SETTINGS, max_features)
    settings = {
        "vectorizer": vectorizer,
        "columns": (text_column, label_column, label_delimiter, split_column),
        "separator": _separator(path),  # a .csv and a .tsv of the same bytes parse differently
    }
    build = lambda: _dataset(path, text_column, label_column, label_delimiter, split_column, vectorizer)  # noqa: E731
    return cached(cache_dir, cache_key(path.stem, [path], settings), build)
