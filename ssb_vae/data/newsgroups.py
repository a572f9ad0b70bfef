"""20 Newsgroups, "bydate" version (docs/method.md §5): all 18,846 posts pooled, split 60/20/20, TF-IDF."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssb_vae.data.cache import cache_key, cached
from ssb_vae.data.core import Dataset
from ssb_vae.data.sources import DatasetNotFoundError, find_source, read_tar_members
from ssb_vae.data.text import MAX_FEATURES, TFIDF_SETTINGS, tfidf_dataset, with_max_features

ARCHIVE = "20news-bydate.tar.gz"
FOLDERS = ("20news-bydate-train", "20news-bydate-test")
HOW_TO_GET = (
    f"Download {ARCHIVE} from the 20 Newsgroups home page (the 'bydate' version, the archive "
    "scikit-learn's fetch_20newsgroups uses), or let the loader download it (download=True)."
)


def _is_post(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 3 and parts[0] in FOLDERS


def _posts_from_archive(path: Path) -> dict[str, str]:
    return {name: raw.decode("latin-1") for name, raw in read_tar_members(path, _is_post).items()}


def _posts_from_folders(directory: Path) -> dict[str, str]:
    return {
        str(file.relative_to(directory)): file.read_bytes().decode("latin-1")
        for folder in FOLDERS
        for file in (directory / folder).glob("*/*")
        if file.is_file()
    }


def _dataset(posts: dict[str, str], roots: bool = False, settings: dict = TFIDF_SETTINGS) -> Dataset:
    """Posts keyed by ``<part>/<group>/<id>``, taken in sorted order so every source splits alike.

    With ``roots``, a multi-label dataset: each post carries its group and the root of the group's
    hierarchy (``comp``, ``rec``, ``sci``, ``talk``, ``misc``, ``alt``, ``soc``), so posts of one
    root are relevant to each other.
    """
    if not posts:
        raise ValueError(
            f"no 20 Newsgroups posts found: the source holds no files of the form "
            f"{FOLDERS[0]}/<group>/<id> or {FOLDERS[1]}/<group>/<id>. {HOW_TO_GET}"
        )
    names = sorted(posts)
    groups = [name.split("/")[1] for name in names]
    classes = sorted(set(groups))
    index = {group: i for i, group in enumerate(classes)}
    labels = np.array([index[group] for group in groups], dtype=np.int64)
    texts = [posts[name] for name in names]
    if not roots:
        return tfidf_dataset("20news", texts, labels, classes, multilabel=False, settings=settings)
    root_names = sorted({group.split(".")[0] for group in classes})
    root_of = np.array([len(classes) + root_names.index(group.split(".")[0]) for group in classes])
    matrix = np.zeros((len(names), len(classes) + len(root_names)), dtype=np.uint8)
    matrix[np.arange(len(names)), labels] = 1
    matrix[np.arange(len(names)), root_of[labels]] = 1
    return tfidf_dataset("20news-multilabel", texts, matrix, classes + root_names, multilabel=True,
                         settings=settings)


def _fetched(cache_dir: Path | None, roots: bool = False, settings: dict = TFIDF_SETTINGS):
    from sklearn.datasets import fetch_20newsgroups

    try:
        bunch = fetch_20newsgroups(subset="all", data_home=cache_dir, download_if_missing=True)
    except OSError as error:
        raise DatasetNotFoundError(
            f"dataset '20news': {ARCHIVE} is not in the data directory and the download failed "
            f"({error}). {HOW_TO_GET}"
        ) from None
    names = ["/".join(Path(filename).parts[-3:]) for filename in bunch.filenames]
    return _dataset(dict(zip(names, bunch.data)), roots, settings)


def load(data_dir, cache_dir: Path | None, download: bool = True, roots: bool = False,
         max_features: int = MAX_FEATURES):
    """Reads ``20news-bydate.tar.gz`` (or its two unpacked folders) from ``data_dir``.

    When neither is there and ``download`` is true, falls back to scikit-learn's
    ``fetch_20newsgroups`` download and cache. ``roots``: the multi-label version (group + root).
    ``max_features``: the vocabulary size (part of the cache key).
    """
    directory = Path(data_dir)
    vectorizer = with_max_features(TFIDF_SETTINGS, max_features)
    settings = {"vectorizer": vectorizer, "split": (0.6, 0.2, 0.2), "roots": roots}
    if (directory / ARCHIVE).exists():
        sources = [directory / ARCHIVE]
        read = lambda: _posts_from_archive(directory / ARCHIVE)  # noqa: E731
    elif all((directory / folder).is_dir() for folder in FOLDERS):
        sources = sorted(file for folder in FOLDERS for file in (directory / folder).glob("*/*"))
        read = lambda: _posts_from_folders(directory)  # noqa: E731
    elif download:
        key = cache_key("20news-fetched", [], settings)
        return cached(cache_dir, key, lambda: _fetched(cache_dir, roots, vectorizer))
    else:
        find_source(directory, [ARCHIVE, *FOLDERS], "20news", HOW_TO_GET)
    return cached(cache_dir, cache_key("20news", sources, settings), lambda: _dataset(read(), roots, vectorizer))
