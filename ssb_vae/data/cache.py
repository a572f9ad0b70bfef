"""An on-disk cache of loaded datasets, keyed by the source file's content and the settings.

A cache entry is one ``.npz`` written to a temporary file and renamed, so an interrupted load
never leaves a partial entry. Loaders never write next to their sources.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ssb_vae.data.core import Dataset, Split
from ssb_vae.data.pipeline import TextPipeline
from ssb_vae.files import replacing

# 2: every part in a seeded random order (docs/method.md §5); 3: the text pipeline is kept; 4: the count
# of documents left out per part is kept. Older entries are never served.
FORMAT_VERSION = 4
PARTS = ("train", "validation", "test")


def default_cache_dir() -> Path:
    """``$SSB_VAE_CACHE``, else ``$XDG_CACHE_HOME/ssb_vae``, else ``~/.cache/ssb_vae``."""
    if os.environ.get("SSB_VAE_CACHE"):
        return Path(os.environ["SSB_VAE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ssb_vae"


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_key(name: str, sources: list[Path], settings: dict) -> str:
    """A name for the entry that changes with the sources' content or any preprocessing setting."""
    described = {
        "format": FORMAT_VERSION,
        "sources": sorted(file_digest(path) for path in sources),
        "settings": settings,
    }
    digest = hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()
    return f"{name}-{digest[:20]}"


def _flatten(dataset: Dataset) -> dict:
    arrays = {
        "name": np.array(dataset.name),
        "classes": np.array([str(c) for c in dataset.classes]),
        "multilabel": np.array(dataset.multilabel),
        "dropped": np.array(dataset.dropped, dtype=np.int64),
    }
    if dataset.text_pipeline is not None:
        arrays["text_pipeline"] = np.array(dataset.text_pipeline.to_json())
    for part in PARTS:
        split = getattr(dataset, part)
        arrays[f"{part}.labels"] = split.labels
        for field in ("x", "target"):
            matrix = getattr(split, field)
            key = f"{part}.{field}"
            if sp.issparse(matrix):
                matrix = sp.csr_matrix(matrix)
                arrays.update({
                    f"{key}.data": matrix.data,
                    f"{key}.indices": matrix.indices,
                    f"{key}.indptr": matrix.indptr,
                    f"{key}.shape": np.array(matrix.shape),
                })
            else:
                arrays[key] = matrix
    return arrays


def _unflatten(arrays) -> Dataset:
    def matrix(key):
        if key in arrays:
            return arrays[key]
        components = (arrays[f"{key}.data"], arrays[f"{key}.indices"], arrays[f"{key}.indptr"])
        return sp.csr_matrix(components, shape=tuple(arrays[f"{key}.shape"]))

    parts = {
        part: Split(matrix(f"{part}.x"), matrix(f"{part}.target"), arrays[f"{part}.labels"])
        for part in PARTS
    }
    return Dataset(
        name=str(arrays["name"]),
        classes=tuple(arrays["classes"].tolist()),
        multilabel=bool(arrays["multilabel"]),
        text_pipeline=TextPipeline.from_json(str(arrays["text_pipeline"])) if "text_pipeline" in arrays else None,
        dropped=tuple(int(n) for n in arrays["dropped"]),
        **parts,
    )


def cached(cache_dir: Path | None, key: str, build) -> Dataset:
    """Returns the cached dataset for ``key``, or builds it, stores it and returns it.

    ``cache_dir=None`` disables the cache. The entry is written only once ``build`` returned.
    """
    if cache_dir is None:
        return build()
    path = Path(cache_dir) / f"{key}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as arrays:
                return _unflatten({name: arrays[name] for name in arrays.files})
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error):
            path.unlink(missing_ok=True)  # an unreadable entry is rebuilt, never trusted
    dataset = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path, suffix=".npz") as temporary:
            np.savez(temporary, **_flatten(dataset))
    except OSError as error:
        raise ValueError(
            f"cannot write the dataset cache in {path.parent} ({error.strerror or error}); choose a "
            "writable --cache-dir (or $SSB_VAE_CACHE), or load with cache=False"
        ) from None
    return dataset
