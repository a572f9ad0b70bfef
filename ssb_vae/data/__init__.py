"""The data layer: one loader per dataset of docs/method.md §5, all returning a ``Dataset``."""

from __future__ import annotations

from pathlib import Path

from ssb_vae.data import cifar10, corpus, digits, matfile, newsgroups, snippets
from ssb_vae.data.cache import default_cache_dir
from ssb_vae.data.core import Dataset, Split, Supervised
from ssb_vae.data.sources import DatasetNotFoundError, find_source

DATASETS = ("digits", "20news", "20news-multilabel", "snippets", "tmc", "cifar10")
TMC_FILE = "tmc.tfidf.mat"
TEXT_DATASETS = ("20news", "20news-multilabel", "snippets")


def load_dataset(
    name: str,
    data_dir="data",
    cache_dir=None,
    cache: bool = True,
    **options,
) -> Dataset:
    """Loads a dataset by name (one of ``DATASETS``) or from a ``.mat``/``.csv``/``.tsv`` path.

    Source files are read from ``data_dir`` and never written to; the preprocessed result is
    cached in ``cache_dir`` (default ``~/.cache/ssb_vae``, or ``$SSB_VAE_CACHE``) unless
    ``cache`` is false. ``options``: ``download`` (20news: fall back to scikit-learn's
    fetcher, default true); ``text_column``, ``label_column``, ``label_delimiter``,
    ``split_column`` (CSV/TSV; see ``ssb_vae.data.corpus``); ``max_features`` (the text datasets'
    vocabulary size, default 10,000; part of the cache key).
    """
    cache_path = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) if cache else None
    key = str(name)
    if "max_features" in options and not (key in TEXT_DATASETS or Path(key).suffix.lower() in (".csv", ".tsv")):
        raise ValueError(f"max_features applies to the text datasets ({', '.join(TEXT_DATASETS)}, CSV/TSV "
                         f"corpora); {name} has fixed features")
    if key == "digits":
        return digits.load()
    if key in ("20news", "20news-multilabel"):
        return newsgroups.load(data_dir, cache_path, roots=key == "20news-multilabel", **options)
    if key == "snippets":
        return snippets.load(data_dir, cache_path, **options)
    if key == "tmc":
        how = f"Get {TMC_FILE} (the TMC / SIAM 2007 text-mining data in the semantic-hashing .mat layout)."
        return matfile.load(find_source(data_dir, [TMC_FILE], "tmc", how), cache_path, name="tmc")
    if key == "cifar10":
        return cifar10.load(data_dir, cache_path)
    suffix = Path(key).suffix.lower()
    if suffix in (".mat", ".csv", ".tsv"):
        path = Path(key)
        if not path.exists():
            raise DatasetNotFoundError(f"no file {path.resolve()}")
        if suffix == ".mat":
            return matfile.load(path, cache_path)
        return corpus.load(path, cache_path, **options)
    raise ValueError(
        f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}, "
        "or a path to a .mat, .csv or .tsv file"
    )


__all__ = ["DATASETS", "Dataset", "DatasetNotFoundError", "Split", "Supervised", "load_dataset"]
