"""Before/after on multi-label data: SSB-VAE and PHS-GS with the reference similarity S = A Aᵀ
("dot") and with the soft Jaccard that multi-label models now use by default ("jaccard"), and the
candidate variants of SSB-VAE (pairs weighted by the confidence of the predicted label sets;
the CSV also holds the rows of the candidates removed in ssb_vae 0.2, run at commit e87ab31: a
label-marginal prior, S from stop-gradient predictions, a cosine similarity, predictions rescaled
to the labelled cardinality).

20 Newsgroups relabelled as multi-label (group + hierarchy root), α/β/γ of the reference
experiments' multi-label dataset (the TMC rows of the paper preset), 30 epochs. One CSV row per
run (P@100, MAP@100 tie-aware, distinct database codes, largest group), each run's codes stored
beside the CSV. Resumable; ``--shard i/n`` runs every n-th run so n processes can share the grid.

    python -m experiments.multilabel.compare --out results/multilabel/compare.csv [--shard 0/2]
    python -m experiments.multilabel.compare --out results/multilabel/compare.csv --summary

``--variant jaccard+confidence`` runs only that variant's runs of the grid.

``--validation`` runs the candidates' selection grid instead (seed 1028, not a goal seed) on a
protocol that never touches the test posts: the database is the training split, the queries are
the validation split (docs/method.md §5's parts), labels kept for the level's share of the training split.

    python -m experiments.multilabel.compare --validation --out results/multilabel/validation.csv
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from filelock import FileLock  # noqa: E402

import ssb_vae  # noqa: E402
from ssb_vae.codes import StoredCodes, save_codes  # noqa: E402
from ssb_vae.data import load_dataset  # noqa: E402
from ssb_vae.evaluation import evaluate  # noqa: E402
from ssb_vae.presets import paper_hyperparameters  # noqa: E402
from ssb_vae.results import csv_line  # noqa: E402

OPTIONS = {"similarity": "jaccard", "label_prior": False, "detach_similarity": False,
           "calibrate_predictions": False, "confidence_weighted": False}  # the CSV's option columns
REMOVED = ("label_prior", "detach_similarity", "calibrate_predictions")  # removed in ssb_vae 0.2 (e87ab31 ran them)
KEY = ("method", *OPTIONS, "level", "bits", "seed")
COLUMNS = (*KEY, "alpha", "beta", "gamma", "p@100", "map@100", "distinct_codes", "largest_group", "database",
           "train_seconds", "codes_file")
SUFFIXES = {"label_prior": "prior", "detach_similarity": "detached", "calibrate_predictions": "calibrated",
            "confidence_weighted": "confidence"}


def entry(method: str, level: float, bits: int, seed: int, **options) -> dict:
    """One run of a grid: the method, its options (the defaults of ``OPTIONS`` otherwise), the cell."""
    return {"method": method, **OPTIONS, **options, "level": level, "bits": bits, "seed": seed}


def key(record: dict) -> tuple:
    """A run's identity, the same whether ``record`` is a grid entry or a CSV row (strings)."""
    flags = tuple(str(record[name]) == "True" for name in OPTIONS if name != "similarity")
    return (record["method"], record["similarity"], *flags, float(record["level"]), int(record["bits"]),
            int(record["seed"]))


GRID = [entry("ssb-vae", level, bits, seed, confidence_weighted=True)  # pairs weighted by confidence
         for seed in (20, 144) for level in (0.1, 0.3) for bits in (16, 32)]
GRID += [entry(method, level, bits, seed, similarity=similarity)
         for similarity in ("jaccard", "dot") for seed in (20, 144) for level in (0.1, 0.3)
         for bits in (16, 32) for method in ("ssb-vae", "phs-gs")]
VALIDATION_GRID = [entry(method, 0.1, bits, 1028, **options) for bits in (32, 16) for method, options in (
    ("ssb-vae", {}),  # the soft Jaccard alone (the default before confidence weighting)
    ("phs-gs", {}),
    ("ssb-vae", {"confidence_weighted": True}))]  # pairs weighted by prediction confidence


def validation_protocol(data):
    """The dataset re-cut so that nothing reaches the test posts: database = the training split,
    queries = the validation split."""
    return dataclasses.replace(data, validation=data.validation.take(slice(0, 0)), test=data.validation)


def variant(run_entry: dict) -> str:
    """The options of a run as one name, e.g. "jaccard+detached"."""
    return "+".join([run_entry["similarity"], *(suffix for name, suffix in SUFFIXES.items()
                                                 if str(run_entry[name]) == "True")])


def run(data, run_entry: dict, out: Path) -> dict:
    method, level, bits, seed = (run_entry[name] for name in ("method", "level", "bits", "seed"))
    supervised = data.with_supervision(level, seed=seed)
    db, queries = supervised.database, supervised.queries
    weights = paper_hyperparameters("tmc", bits, method, level)
    keras.utils.set_random_seed(seed)
    model = ssb_vae.build_model(method, input_dim=data.n_features, n_bits=bits, n_classes=len(data.classes),
                                multilabel=True, seed=seed,
                                **{name: run_entry[name] for name in OPTIONS if name not in REMOVED},
                                **weights)
    started = time.perf_counter()
    ssb_vae.train(model, db.x, target=db.target, labels=db.labels, labelled=supervised.labelled,
                  epochs=30, seed=seed, verbose=0)
    seconds = time.perf_counter() - started
    db_codes, query_codes = ssb_vae.hash_codes(model, db.x), ssb_vae.hash_codes(model, queries.x)
    scores = evaluate(db_codes, query_codes, db.labels, queries.labels, ks=(100,))
    _, sizes = np.unique(db_codes, axis=0, return_counts=True)
    codes_file = Path(f"{out.stem}_codes") / f"{method}_{variant(run_entry)}_{bits}bits_level{level}_seed{seed}.npz"
    save_codes(out.parent / codes_file, StoredCodes(db_codes, query_codes, db.labels, queries.labels, run_entry))
    return {**run_entry, **weights, "p@100": scores["p@100"], "map@100": scores["map@100"],
            "distinct_codes": len(sizes), "largest_group": int(sizes.max()), "database": len(db_codes),
            "train_seconds": round(seconds, 1), "codes_file": codes_file.as_posix()}


def summary(out: Path) -> str:
    """Markdown tables of the CSV: mean over seeds of P@100 and of the distinct-code fraction."""
    import pandas as pd

    table = pd.read_csv(out)
    table["distinct %"] = 100 * table["distinct_codes"] / table["database"]
    table["similarity"] = [variant(row).replace("+", " + ") for row in table.astype(str).to_dict("records")]
    grouped = table.groupby(["bits", "level", "similarity", "method"]).agg(
        seeds=("seed", "count"), p100=("p@100", "mean"), p100_min=("p@100", "min"), p100_max=("p@100", "max"),
        distinct=("distinct %", "mean"), distinct_min=("distinct %", "min"))
    lines = ["| bits | level | S | method | seeds | P@100 mean (min–max) | distinct codes, % of database (min) |",
             "|---|---|---|---|---|---|---|"]
    for (bits, level, similarity, method), r in grouped.iterrows():
        lines.append(f"| {bits} | {level:g} | {similarity} | {method} | {int(r.seeds)} | {r.p100:.3f} "
                     f"({r.p100_min:.3f}–{r.p100_max:.3f}) | {r.distinct:.1f} ({r.distinct_min:.1f}) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--summary", action="store_true", help="print the tables of --out and stop")
    parser.add_argument("--shard", default="0/1", help="i/n: run every n-th run of the grid, from the i-th")
    parser.add_argument("--validation", action="store_true",
                        help="the selection grid on the validation protocol (see the module docstring)")
    parser.add_argument("--variant", default=None,
                        help='run only the grid\'s runs of this variant, e.g. "jaccard+confidence"')
    parser.add_argument("--data-dir", default="../shared/data")
    args = parser.parse_args()
    index, count = map(int, args.shard.split("/"))
    out = Path(args.out)
    if args.summary:
        print(summary(out))
        return
    data = load_dataset("20news-multilabel", data_dir=args.data_dir, download=False)
    grid = GRID
    if args.validation:
        data, grid = validation_protocol(data), VALIDATION_GRID
    if args.variant:
        grid = [run_entry for run_entry in grid if variant(run_entry) == args.variant]
        if not grid:
            parser.error(f"no run of variant {args.variant!r} in the grid")
    for run_entry in grid[index::count]:
        done = set()
        if out.exists():
            with open(out, newline="") as handle:
                done = {key(row) for row in csv.DictReader(handle)}
        if key(run_entry) in done:
            continue
        row = run(data, run_entry, out)
        with FileLock(f"{out}.lock"):  # shards share the file
            header = csv_line(COLUMNS) if not out.exists() or out.stat().st_size == 0 else ""
            with open(out, "a", newline="") as handle:
                handle.write(header + csv_line([row[c] for c in COLUMNS]))
        print(f"{method_line(row)}: p@100 {row['p@100']:.3f} distinct {row['distinct_codes']}", flush=True)


def method_line(row: dict) -> str:
    return f"{row['method']} {variant(row)} level {row['level']} {row['bits']} bits seed {row['seed']}"


if __name__ == "__main__":
    main()
