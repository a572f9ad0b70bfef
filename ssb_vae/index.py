"""Search your own corpus by Hamming distance: a faiss binary index of a saved model's codes.

    python -m ssb_vae.index build MODEL.keras CORPUS.csv --out DIR [--kind flat|hash|multihash]
    python -m ssb_vae.index search DIR --text "…" [-k 10] [--json]
    python -m ssb_vae.index search DIR --id ID [-k 10] [--json]

``build`` hashes every document of the corpus with the model and its saved text pipeline
(``MODEL.pipeline.json``, written by ``run_experiments.py --save-models`` on a text dataset) and
writes DIR: ``index.faiss`` (faiss's binary index I/O), ``codes.npy`` (the packed codes),
``items.json`` (id, labels and the start of each text), copies of the model and its pipeline, and
``meta.json``. ``search`` hashes a text (or takes the code of an indexed item) and returns the k
nearest items, nearest first. Items at the same distance come back in no particular order.

Codes are packed 8 bits to a byte; a code length that is not a multiple of 8 is padded with zero
bits, which leaves every Hamming distance unchanged. ``flat`` is exact search
(``IndexBinaryFlat``); ``hash`` and ``multihash`` (``IndexBinaryHash``/``IndexBinaryMultiHash``)
look only in the buckets near the query's, for large databases where exact search is too slow.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from filelock import FileLock, Timeout

from ssb_vae.data.corpus import label_sets, read_table
from ssb_vae.data.pipeline import TextPipeline, pipeline_path
from ssb_vae.evaluation import check_codes

INDEX_KINDS = ("flat", "hash", "multihash")
TEXT_START = 200  # characters of each text kept for display
HASH_BITS = 16  # bits of the code that address a bucket (at most the code length)
HASH_FLIPS = 2  # hash indexes visit the buckets within this many flipped bits of the query's
MULTIHASH_TABLES = 2
FILES = {"index": "index.faiss", "codes": "codes.npy", "items": "items.json", "meta": "meta.json",
         "model": "model.keras", "pipeline": "model.pipeline.json"}


def pack_codes(codes: np.ndarray) -> np.ndarray:
    """0/1 codes (items × bits) as bytes for faiss, padded with zero bits to a multiple of 8."""
    return np.packbits(np.asarray(codes, dtype=np.uint8), axis=1)


def faiss_index(n_bits: int, kind: str = "flat"):
    """An empty faiss binary index for codes of ``n_bits`` (padded to whole bytes)."""
    if kind not in INDEX_KINDS:
        raise ValueError(f"unknown index kind {kind!r}; valid kinds: {', '.join(INDEX_KINDS)}")
    dimension = 8 * -(-n_bits // 8)
    if kind == "flat":
        return faiss.IndexBinaryFlat(dimension)
    bucket_bits = min(HASH_BITS, n_bits)
    if kind == "hash":
        index = faiss.IndexBinaryHash(dimension, bucket_bits)
    else:
        index = faiss.IndexBinaryMultiHash(dimension, MULTIHASH_TABLES, min(bucket_bits, n_bits // MULTIHASH_TABLES or 1))
    index.nflip = HASH_FLIPS
    return index


@dataclass
class HammingIndex:
    """Packed codes in a faiss binary index, with each item's id, labels and start of text."""

    index: object
    codes: np.ndarray  # packed, items × bytes
    n_bits: int
    items: list[dict]
    kind: str = "flat"

    @classmethod
    def build(cls, codes: np.ndarray, ids: list[str], labels: list[list[str]], texts: list[str],
              kind: str = "flat") -> "HammingIndex":
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[0] == 0:
            raise ValueError("there is nothing to index: give at least one code (items × bits)")
        codes = check_codes("codes", codes)  # probabilities or ±1 codes would index garbage
        if not len(ids) == len(labels) == len(texts) == len(codes):
            raise ValueError(f"{len(codes)} codes but {len(ids)} ids, {len(labels)} label lists and "
                             f"{len(texts)} texts: give one of each per item")
        if len(set(ids)) != len(ids):
            raise ValueError("item ids must be unique")
        packed = pack_codes(codes)
        index = faiss_index(codes.shape[1], kind)
        index.add(packed)
        items = [{"id": str(i), "labels": list(l), "text": t[:TEXT_START]} for i, l, t in zip(ids, labels, texts)]
        return cls(index, packed, codes.shape[1], items, kind)

    def __len__(self) -> int:
        return len(self.items)

    def search(self, query_codes: np.ndarray, k: int = 10) -> list[list[dict]]:
        """The k nearest items of each query code, nearest first: dicts of id, distance, labels, text."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        query_codes = np.asarray(query_codes)
        if query_codes.ndim != 2 or query_codes.shape[1] != self.n_bits:
            raise ValueError(f"the index holds codes of {self.n_bits} bits, got queries of shape {query_codes.shape}")
        query_codes = check_codes("query_codes", query_codes)
        distances, positions = self.index.search(pack_codes(query_codes), min(int(k), len(self)))
        return [
            [{**self.items[p], "distance": int(d)} for d, p in zip(row_d, row_p) if p >= 0]
            for row_d, row_p in zip(distances, positions)
        ]

    def code_of(self, item_id: str) -> np.ndarray:
        """The 0/1 code (1 × bits) of an indexed item, or a ValueError naming the id."""
        positions = {item["id"]: position for position, item in enumerate(self.items)}
        if str(item_id) not in positions:
            raise ValueError(f"no item with id {item_id!r} in the index ({len(self)} items)")
        return np.unpackbits(self.codes[positions[str(item_id)]][None, :], axis=1, count=self.n_bits)

    def save(self, directory) -> dict[str, str]:
        """Writes the index, codes and items into ``directory``; returns each file's digest."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index_binary(self.index, str(directory / FILES["index"]))
        np.save(directory / FILES["codes"], self.codes)
        (directory / FILES["items"]).write_text(json.dumps(self.items))
        return {part: file_digest(directory / FILES[part]) for part in ("index", "codes", "items")}

    @classmethod
    def load(cls, directory, meta: dict) -> "HammingIndex":
        """Reads the parts of an index folder, each checked against what ``meta.json`` recorded."""
        directory = Path(directory)
        for part in ("index", "codes", "items"):
            path = directory / FILES[part]
            if not path.is_file():
                raise DamagedIndexError(path, "is missing")
            if file_digest(path) != meta["files"][part]:
                raise DamagedIndexError(path, "is not the file this index was built with (changed, swapped "
                                              "or truncated)")
        try:
            index = faiss.read_index_binary(str(directory / FILES["index"]))
            codes = np.load(directory / FILES["codes"], allow_pickle=False)
            items = json.loads((directory / FILES["items"]).read_text())
        except (RuntimeError, ValueError, OSError) as error:
            raise DamagedIndexError(directory, f"could not be read ({error})") from None
        return cls(index, codes, meta["n_bits"], items, meta["kind"])


class DamagedIndexError(ValueError):
    """A part of an index folder is missing, damaged, or not the one the folder was built with."""

    def __init__(self, path, problem: str):
        super().__init__(f"{path} {problem}; rebuild the index (ssb-vae index build MODEL CORPUS --out "
                         "FOLDER --force)")


def file_digest(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def model_identity(model, pipeline: TextPipeline) -> dict:
    """What makes a model the one that built an index: method, bits, its weights and vocabulary."""
    weights = hashlib.sha256()
    for array in model.get_weights():
        weights.update(np.ascontiguousarray(array).tobytes())
    return {"method": model.method, "n_bits": model.spec.n_bits, "weights": weights.hexdigest()[:16],
            "vocabulary": pipeline.digest()}


def read_corpus(path, text_column="text", label_column="label", id_column=None, label_delimiter=None):
    """(ids, labels, texts) of a CSV/TSV corpus; labels are optional, ids default to row numbers."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no corpus file {path}")
    table = read_table(path)
    if table.empty:
        raise ValueError(f"{path} has no documents: nothing to index")
    for column in (text_column, id_column):
        if column is not None and column not in table.columns:
            raise ValueError(f"{path} has no column {column!r}; its columns are {', '.join(map(repr, table.columns))}")
    ids = table[id_column].tolist() if id_column else [str(i) for i in range(len(table))]
    if label_column in table.columns:
        labels = label_sets(table[label_column], label_delimiter)
    else:
        labels = [[] for _ in ids]
    return ids, labels, table[text_column].tolist()


class CorpusIndex:
    """A model, its text pipeline and the Hamming index of a corpus it hashed: text in, neighbours out."""

    def __init__(self, model, pipeline: TextPipeline, index: HammingIndex, left_out: list[str] | None = None):
        self.model, self.pipeline, self.index = model, pipeline, index
        self.left_out = left_out or []  # ids of documents with none of the model's terms
        if model.spec.n_bits != index.n_bits:
            raise ValueError(f"the model gives codes of {model.spec.n_bits} bits but the index holds "
                             f"{index.n_bits}-bit codes: it was built by a different model")
        if model.spec.input_dim != pipeline.n_features:
            raise ValueError(f"the model reads {model.spec.input_dim} features but the text pipeline "
                             f"gives {pipeline.n_features}: they do not belong together")

    def search(self, text: str | None = None, item_id: str | None = None, k: int = 10) -> list[dict]:
        """The k nearest items of a text or of an indexed item (by id), nearest first."""
        if (text is None) == (item_id is None):
            raise ValueError("give either a text or an item id to search for")
        if text is not None:
            code = text_codes(self.model, self.pipeline, [text], refuse_empty=True)
        else:
            code = self.index.code_of(item_id)
        return [{"rank": rank, **hit} for rank, hit in enumerate(self.index.search(code, k)[0], start=1)]


def text_codes(model, pipeline: TextPipeline, texts: list[str], refuse_empty: bool = False) -> np.ndarray:
    """The codes of raw texts; with ``refuse_empty``, a text with none of the pipeline's terms
    (a zero input, whose code says nothing about it) is an error."""
    from ssb_vae.training import hash_codes

    x = pipeline.transform(texts)
    if refuse_empty and (x.getnnz(axis=1) == 0).any():
        raise ValueError(f"the query has none of the model's {pipeline.n_features} terms, so it has no "
                         "meaningful code; use words of the indexed corpus")
    return hash_codes(model, x)


def _load_model_and_pipeline(model_path):
    from ssb_vae.models import load_model

    pipeline_file = pipeline_path(model_path)
    if not pipeline_file.exists():
        raise ValueError(f"{model_path} has no text pipeline beside it ({pipeline_file.name}): save the "
                         "model with run_experiments.py --save-models on a text dataset")
    return load_model(model_path), TextPipeline.load(pipeline_file)


def build(model_path, corpus_path, out_dir, kind: str = "flat", force: bool = False,
          **corpus_options) -> CorpusIndex:
    """Hashes a corpus with a saved model into a self-contained index folder, published whole.

    The folder is written beside ``out_dir`` under a temporary name and renamed into place, so it
    appears complete or not at all. ``out_dir`` must not exist, be empty, or (with ``force``) be
    an index folder, which is replaced; a folder of other files is never touched. Documents with
    none of the model's terms have no meaningful code and are left out (``CorpusIndex.left_out``).
    """
    out_dir = Path(out_dir)
    _check_target(out_dir, force)
    model, pipeline = _load_model_and_pipeline(model_path)
    ids, labels, texts = read_corpus(corpus_path, **corpus_options)
    x = pipeline.transform(texts)
    kept = np.flatnonzero(x.getnnz(axis=1) > 0)
    if not len(kept):
        raise ValueError(f"none of the {len(texts)} documents of {corpus_path} has any of the model's "
                         f"{pipeline.n_features} terms: this model was trained on another vocabulary")
    left_out = [str(ids[i]) for i in np.setdiff1d(np.arange(len(texts)), kept)]
    from ssb_vae.training import hash_codes

    index = HammingIndex.build(hash_codes(model, x[kept]), [ids[i] for i in kept], [labels[i] for i in kept],
                               [texts[i] for i in kept], kind)
    corpus = CorpusIndex(model, pipeline, index, left_out)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(out_dir.with_name(f".{out_dir.name}.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise ValueError(f"another build is writing {out_dir}; wait for it to finish") from None
    try:
        _check_target(out_dir, force)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.building-", dir=out_dir.parent))
        try:
            files = corpus.index.save(staging)
            shutil.copyfile(model_path, staging / FILES["model"])
            pipeline.save(staging / FILES["pipeline"])
            meta = {"items": len(index), "n_bits": model.spec.n_bits, "kind": kind,
                    "model": model_identity(model, pipeline), "left_out": len(left_out),
                    "files": files, "source": str(Path(model_path).resolve())}
            (staging / FILES["meta"]).write_text(json.dumps(meta, indent=1))
            _publish(staging, out_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        lock.release()
    return corpus


def _check_target(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir} is a file; give --out a folder name")
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return
    if not (out_dir / FILES["meta"]).exists():
        raise ValueError(f"{out_dir} holds files that are not an index; choose another --out (nothing was "
                         "written)")
    if not force:
        raise ValueError(f"{out_dir} already holds an index; choose another --out, or pass --force to "
                         "replace it")


def _publish(staging: Path, out_dir: Path) -> None:
    """Moves the finished folder into place; an index it replaces is moved aside first and removed
    only once the new one is in place."""
    if out_dir.is_dir() and not any(out_dir.iterdir()):
        out_dir.rmdir()
    old = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.replaced-", dir=out_dir.parent))
        old.rmdir()
        out_dir.rename(old)
    try:
        staging.rename(out_dir)
    except OSError:
        if old is not None:
            old.rename(out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_meta(directory: Path) -> dict:
    """``meta.json`` of an index folder, checked; a DamagedIndexError names what is wrong."""
    path = directory / FILES["meta"]
    if not directory.is_dir() or not path.exists():
        raise FileNotFoundError(f"{directory} is not an index folder (no {FILES['meta']}); make one with "
                                "`ssb-vae index build`")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DamagedIndexError(path, "is empty or damaged") from None
    needed = ("items", "n_bits", "kind", "model", "files")
    if not isinstance(meta, dict) or any(name not in meta for name in needed):
        raise DamagedIndexError(path, "lacks what an index records (it was written by an older ssb_vae, or "
                                      "damaged)")
    return meta


def open_index(directory, model_path=None) -> CorpusIndex:
    """Loads an index folder, verifying every part; ``model_path`` (default: the folder's copy)
    must be the model that built it: same method, bits, weights and vocabulary."""
    directory = Path(directory)
    meta = read_meta(directory)
    model_path = Path(model_path or directory / FILES["model"])
    if not model_path.is_file():
        raise DamagedIndexError(model_path, "is missing") if model_path.parent == directory else \
            FileNotFoundError(f"no model file {model_path}")
    try:
        model, pipeline = _load_model_and_pipeline(model_path)
    except (ValueError, OSError) as error:
        raise DamagedIndexError(model_path, f"could not be loaded ({error})") from None
    identity = model_identity(model, pipeline)
    for name, value in meta["model"].items():
        if identity.get(name) != value:
            raise ValueError(f"{model_path} is not the model that built {directory}: its {name} is "
                             f"{identity.get(name)}, the index's is {value}")
    index = HammingIndex.load(directory, meta)
    if len(index) != meta["items"] or index.codes.shape != (meta["items"], -(-meta["n_bits"] // 8)):
        raise DamagedIndexError(directory, f"holds {len(index)} items and codes of shape {index.codes.shape}, "
                                           f"not the {meta['items']} items its meta.json records")
    return CorpusIndex(model, pipeline, index)


def _print_hits(hits: list[dict], as_json: bool) -> None:
    if as_json:
        print(json.dumps(hits, ensure_ascii=False))
        return
    for hit in hits:
        text = " ".join(hit["text"].split())[:80]
        print(f"{hit['rank']:>4}  {hit['id']:<12} {hit['distance']:>3}  {'|'.join(hit['labels']):<20} {text}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ssb_vae.index", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("build", help="hash a CSV/TSV corpus with a saved model into an index folder")
    make.add_argument("model", help="a .keras model saved with its text pipeline (--save-models)")
    make.add_argument("corpus", help="a .csv or .tsv file of documents")
    make.add_argument("--out", required=True, help="the index folder to write (new, empty, or an index with --force)")
    make.add_argument("--force", action="store_true", help="replace the index folder --out (never other files)")
    make.add_argument("--kind", choices=INDEX_KINDS, default="flat", help="exact (flat) or bucketed search")
    make.add_argument("--text-column", default="text")
    make.add_argument("--label-column", default="label", help="shown with each hit when present")
    make.add_argument("--id-column", default=None, help="item ids (default: the row number)")
    make.add_argument("--label-delimiter", default=None, help="separator of several labels in one cell")
    find = commands.add_parser("search", help="the nearest items of a text or of an indexed item")
    find.add_argument("index", help="an index folder written by `build`")
    what = find.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="a query text")
    what.add_argument("--id", help="the id of an indexed item")
    find.add_argument("-k", type=int, default=10, help="how many items to return")
    find.add_argument("--json", action="store_true", help="print a JSON list of objects, nearest first")
    find.add_argument("--model", default=None, help="another copy of the model that built the index")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            corpus = build(args.model, args.corpus, args.out, args.kind, force=args.force,
                           text_column=args.text_column, label_column=args.label_column,
                           id_column=args.id_column, label_delimiter=args.label_delimiter)
            print(f"indexed {len(corpus.index)} documents as {corpus.index.n_bits}-bit codes in {args.out}")
            if corpus.left_out:
                shown = ", ".join(corpus.left_out[:5]) + (" …" if len(corpus.left_out) > 5 else "")
                print(f"left out {len(corpus.left_out)} document(s) with none of the model's terms: {shown}")
        else:
            corpus = open_index(args.index, args.model)
            _print_hits(corpus.search(text=args.text, item_id=args.id, k=args.k), args.json)
    except (ValueError, OSError) as error:
        parser.error(str(error))


if __name__ == "__main__":
    from ssb_vae.cli import run_command

    sys.exit(run_command(main, prog="ssb-vae index"))
