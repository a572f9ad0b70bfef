"""Stored codes (docs/method.md §7): what a run's metrics were computed from, kept so they can be recomputed.

One compressed ``.npz`` per run: the database and query codes bit-packed (``np.packbits`` along
each row), the labels that score them, and the run's key as JSON. A 20 Newsgroups run at 16 bits
takes a few tens of KB. No TensorFlow is needed to read or rescore them.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssb_vae.files import replacing

FORMAT = 1


@dataclass(frozen=True)
class StoredCodes:
    """The codes (uint8 0/1, items × bits) and labels of one run, and the run's key."""

    db_codes: np.ndarray
    query_codes: np.ndarray
    db_labels: np.ndarray
    query_labels: np.ndarray
    key: dict

    @property
    def n_bits(self) -> int:
        return self.db_codes.shape[1]


def _compact_labels(labels: np.ndarray) -> np.ndarray:
    """Class indices in the smallest unsigned type, or a 0/1 matrix as uint8."""
    labels = np.asarray(labels)
    if labels.ndim == 2 or labels.dtype.kind not in "iu" or labels.size == 0 or labels.min() < 0:
        return labels.astype(np.uint8) if labels.ndim == 2 else labels
    return labels.astype(np.min_scalar_type(int(labels.max())))


def save_codes(path, codes: StoredCodes) -> Path:
    """Writes ``codes`` to ``path`` (.npz) atomically: an interrupted write leaves no file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        "format": np.array(FORMAT),
        "n_bits": np.array(codes.n_bits),
        "db_codes": np.packbits(np.asarray(codes.db_codes, dtype=np.uint8), axis=1),
        "query_codes": np.packbits(np.asarray(codes.query_codes, dtype=np.uint8), axis=1),
        "db_labels": _compact_labels(codes.db_labels),
        "query_labels": _compact_labels(codes.query_labels),
        "key": np.array(json.dumps(codes.key, sort_keys=True)),
    }
    with replacing(path, suffix=".npz") as temporary:
        np.savez_compressed(temporary, **arrays)
    return path


def load_codes(path) -> StoredCodes:
    """Reads a file written by ``save_codes``, or raises ValueError naming what is wrong."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"stored codes {path} are missing; its row cannot be recomputed without training")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            n_bits = int(arrays["n_bits"])
            return StoredCodes(
                db_codes=np.unpackbits(arrays["db_codes"], axis=1, count=n_bits),
                query_codes=np.unpackbits(arrays["query_codes"], axis=1, count=n_bits),
                db_labels=arrays["db_labels"],
                query_labels=arrays["query_labels"],
                key=json.loads(str(arrays["key"])),
            )
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"stored codes {path} are unreadable ({type(error).__name__}: {error})") from None
