"""Web search snippets (Phan et al. 2008; docs/method.md §5): train.txt split 90/10, test.txt as queries.

Every part is stored in a seeded random order, not in the files' (class) order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssb_vae.data.cache import cache_key, cached
from ssb_vae.data.core import Dataset, Split, split_indices, storage_order
from ssb_vae.data.sources import find_source, read_tar_members
from ssb_vae.data.text import MAX_FEATURES, SNIPPET_SETTINGS, snippet_features, with_max_features

ARCHIVE = "data-web-snippets.tar.gz"
HOW_TO_GET = (
    f"Get {ARCHIVE} (train.txt and test.txt, one snippet a line, class last) from the "
    "web-snippets dataset of Phan, Nguyen and Horiguchi (2008)."
)


def parse_lines(raw: bytes, source: str) -> tuple[list[str], list[str]]:
    """One snippet a line: words, then the class as the last token. Blank lines are skipped."""
    texts, labels = [], []
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) < 2:
            raise ValueError(f"{source}, line {number}: expected words then a class, got {line!r}")
        texts.append(" ".join(tokens[:-1]))
        labels.append(tokens[-1])
    return texts, labels


def _read(directory: Path) -> tuple[list[Path], dict[str, bytes]]:
    archive = directory / ARCHIVE
    if archive.exists():
        members = read_tar_members(archive, lambda name: name.endswith(("/train.txt", "/test.txt")))
        by_name = {Path(name).name: raw for name, raw in members.items()}
        missing = {"train.txt", "test.txt"} - set(by_name)
        if missing:
            raise ValueError(f"{archive} lacks {', '.join(sorted(missing))}")
        return [archive], by_name
    for folder in (directory, directory / "data-web-snippets"):
        if (folder / "train.txt").exists() and (folder / "test.txt").exists():
            files = [folder / "train.txt", folder / "test.txt"]
            return files, {file.name: file.read_bytes() for file in files}
    find_source(directory, [ARCHIVE, "train.txt + test.txt"], "snippets", HOW_TO_GET)


def _dataset(contents: dict[str, bytes], settings: dict = SNIPPET_SETTINGS) -> Dataset:
    train_texts, train_labels = parse_lines(contents["train.txt"], "train.txt")
    test_texts, test_labels = parse_lines(contents["test.txt"], "test.txt")
    test_order = storage_order(len(test_texts), "snippets/test.txt")  # docs/method.md §5: not in file order
    test_texts, test_labels = [test_texts[i] for i in test_order], [test_labels[i] for i in test_order]
    classes = sorted(set(train_labels) | set(test_labels))
    index = {name: i for i, name in enumerate(classes)}
    train_rows, validation_rows = split_indices(len(train_texts), (0.9, 0.1))
    texts = np.asarray(train_texts, dtype=object)
    labels = np.array([index[name] for name in train_labels], dtype=np.int64)
    test_y = np.array([index[name] for name in test_labels], dtype=np.int64)
    pipeline, features = snippet_features(texts[train_rows], [texts[validation_rows], test_texts], settings)
    parts = [
        Split(*features[0], labels[train_rows]),
        Split(*features[1], labels[validation_rows]),
        Split(*features[2], test_y),
    ]
    return Dataset("snippets", *parts, classes=tuple(classes), multilabel=False, text_pipeline=pipeline)


def load(data_dir, cache_dir: Path | None, max_features: int = MAX_FEATURES) -> Dataset:
    """Reads ``data-web-snippets.tar.gz``, or ``train.txt`` and ``test.txt``, from ``data_dir``;
    ``max_features``: the vocabulary size (part of the cache key)."""
    sources, contents = _read(Path(data_dir))
    vectorizer = with_max_features(SNIPPET_SETTINGS, max_features)
    settings = {"vectorizer": vectorizer, "split": (0.9, 0.1)}
    return cached(cache_dir, cache_key("snippets", sources, settings), lambda: _dataset(contents, vectorizer))
