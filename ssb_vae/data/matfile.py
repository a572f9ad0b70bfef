"""Datasets stored as a MATLAB ``.mat`` file in the layout of public semantic-hashing data (docs/method.md §5).

Matrices ``train``, ``cv``, ``test`` (items × features, usually sparse TF-IDF) and ``gnd_train``,
``gnd_cv``, ``gnd_test`` (items × classes, one- or multi-hot). ``tmc.tfidf.mat`` is the
multi-label TMC dataset; ``ng20.tfidf.mat`` and ``reuters.tfidf.mat`` load the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse as sp

from ssb_vae.matrices import normalize_rows
from ssb_vae.data.cache import cache_key, cached
from ssb_vae.data.core import Dataset, Split, storage_order

MATRICES = ("train", "cv", "test", "gnd_train", "gnd_cv", "gnd_test")


def _read_mat(path: Path) -> dict:
    try:
        contents = scipy.io.loadmat(path)
    except NotImplementedError:
        raise ValueError(
            f"{path} is a MATLAB v7.3 (HDF5) file; save it again with -v7 (or scipy.io.savemat)"
        ) from None
    except Exception as error:  # scipy raises several types for damaged files
        raise ValueError(f"{path} is not a readable .mat file ({type(error).__name__}: {error})") from None
    missing = [name for name in MATRICES if name not in contents]
    if missing:
        raise ValueError(
            f"{path} lacks the matrices {', '.join(missing)}; a dataset .mat file needs all of "
            f"{', '.join(MATRICES)}"
        )
    return contents


def _dense(matrix) -> np.ndarray:
    return np.asarray(matrix.toarray() if sp.issparse(matrix) else matrix)


def _split(name: str, features, ground_truth, multilabel: bool, drop_empty: bool, path: Path) -> Split:
    x = sp.csr_matrix(features, dtype=np.float32)
    if ground_truth.shape[0] != x.shape[0]:
        raise ValueError(
            f"{path}: {name} has {x.shape[0]} rows but gnd_{name} has {ground_truth.shape[0]}"
        )
    if drop_empty:
        kept = np.flatnonzero(x.getnnz(axis=1) > 0)
        x, ground_truth = x[kept], ground_truth[kept]
    order = storage_order(x.shape[0], f"mat/{name}")  # docs/method.md §5: not in the file's order
    x, ground_truth = x[order], ground_truth[order]
    labels = ground_truth.astype(np.uint8) if multilabel else ground_truth.argmax(axis=1)
    return Split(x, normalize_rows(x), labels)


def _dataset(path: Path, name: str) -> Dataset:
    contents = _read_mat(path)
    ground_truths = [_dense(contents[f"gnd_{part}"]) for part in ("train", "cv", "test")]
    n_classes = {g.shape[1] for g in ground_truths}
    if len(n_classes) != 1:
        raise ValueError(f"{path}: gnd_train, gnd_cv and gnd_test have different numbers of classes")
    multilabel = any((g.sum(axis=1) > 1).any() for g in ground_truths)
    for part, truth in zip(("gnd_train", "gnd_cv", "gnd_test"), ground_truths):
        unlabelled = int((truth.sum(axis=1) == 0).sum())
        if unlabelled and not multilabel:
            raise ValueError(
                f"{path}: {unlabelled} row(s) of {part} have no class (all zeros); in a single-label "
                "file every item needs exactly one class. Remove those items or give them a class"
            )
    parts = [
        _split(part, contents[part], truth, multilabel, drop_empty=(part == "train"), path=path)
        for part, truth in zip(("train", "cv", "test"), ground_truths)
    ]
    classes = tuple(str(c) for c in range(n_classes.pop()))
    return Dataset(name, *parts, classes=classes, multilabel=multilabel)


def load(path, cache_dir: Path | None, name: str | None = None) -> Dataset:
    """Loads any ``.mat`` file of the layout above; training rows that are all zero are dropped.

    Each part is returned in a seeded random order (docs/method.md §5), not in the file's.
    """
    path = Path(path)
    name = name or path.name.split(".")[0]
    return cached(cache_dir, cache_key(name, [path], {"layout": MATRICES}), lambda: _dataset(path, name))
