"""The forensics of the paper-preset study (results/paper_preset/README.md): how much the earlier
rule (a class-sorted database, ties broken by position) moved its numbers, and what changed from
the superseded tables. Reads stored codes only; no training.

    python -m experiments.paper_preset.forensics results/paper_preset/20news.csv --artifact \
        --superseded results/paper_preset/superseded/20news.csv
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from ssb_vae.evaluation import evaluate
from ssb_vae.report import ROW_KEYS, _rank, load_results, write_beside
from ssb_vae.rescoring import rows_with_codes

ARTIFACT_METRICS = ("p@100", "map@100")


def storage_order_scores(csv_path) -> pd.DataFrame:
    """Every row's stored codes scored twice, without training: tie-aware (the default, docs/method.md §6),
    and with the database sorted by class and ties broken by position (what the superseded tables
    did). Means over repetitions, one row per (dataset, bits, algorithm, level)."""
    scored = []
    for row, codes in rows_with_codes(csv_path, "the artifact can only be measured from them"):
        labels = codes.db_labels
        by_class = np.lexsort(labels.T[::-1]) if labels.ndim == 2 else np.argsort(labels, kind="stable")
        default = evaluate(codes.db_codes, codes.query_codes, labels, codes.query_labels, ks=(100,))
        superseded = evaluate(codes.db_codes[by_class], codes.query_codes, labels[by_class],
                              codes.query_labels, ks=(100,), ties="index")
        scored.append({"dataset": row["dataset"], "bits": int(row["bits"]), "algorithm": row["algorithm"],
                       "level": float(row["level"]), "repetitions": 1,
                       **{f"{m} {kind}": scores[m] for kind, scores in (("tie-aware", default),
                          ("class order", superseded)) for m in ARTIFACT_METRICS}})
    table = pd.DataFrame(scored).groupby(ROW_KEYS + ["level"]).agg(
        {"repetitions": "sum", **{c: "mean" for c in scored[0] if "@" in c}})
    for metric in ARTIFACT_METRICS:
        table[f"{metric} difference"] = table[f"{metric} class order"] - table[f"{metric} tie-aware"]
    return table


def artifact_table(csv_path, threshold: float = 0.01, scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """The size of the storage-order artifact (docs/method.md §6): :func:`storage_order_scores` (or the
    ``scores`` it already returned), only the cells where P@100 or MAP@100 differ by more than
    ``threshold``."""
    scores = storage_order_scores(csv_path) if scores is None else scores
    differs = (scores[[f"{metric} difference" for metric in ARTIFACT_METRICS]].abs() > threshold).any(axis=1)
    return scores[differs]


def superseded_table(scores: pd.DataFrame, superseded: pd.DataFrame) -> pd.DataFrame:
    """What changed from a superseded study, and how much of it the metric rule explains.

    ``scores`` is :func:`storage_order_scores` of the new study; ``superseded`` the rows of the old
    CSV (no codes, scored the old way). Per cell present in both, for P@100 and MAP@100: the old
    mean, the new codes scored the old way (``class order``), the new default (``tie-aware``),
    ``change`` = tie-aware − superseded, split into ``rule`` = tie-aware − class order (the metric
    alone, same codes) and ``rest`` = class order − superseded (everything else: training on
    shuffled storage, the third seed).
    """
    missing = [m for m in ARTIFACT_METRICS if m not in superseded]
    if missing:
        raise ValueError(f"the superseded CSV has no column {missing[0]!r}")
    old = superseded.groupby(ROW_KEYS + ["level"]).agg(
        **{"superseded repetitions": (ARTIFACT_METRICS[0], "count")},
        **{f"{m} superseded": (m, "mean") for m in ARTIFACT_METRICS})
    table = old.join(scores, how="inner")
    columns = ["superseded repetitions", "repetitions"]
    for m in ARTIFACT_METRICS:
        table[f"{m} change"] = table[f"{m} tie-aware"] - table[f"{m} superseded"]
        table[f"{m} rule"] = table[f"{m} tie-aware"] - table[f"{m} class order"]
        table[f"{m} rest"] = table[f"{m} class order"] - table[f"{m} superseded"]
        columns += [f"{m} {kind}" for kind in ("superseded", "class order", "tie-aware", "change", "rule", "rest")]
    table = table[columns]
    return table.loc[sorted(table.index, key=lambda row: (row[0], row[1], _rank(row[2]), row[3]))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.paper_preset.forensics",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("csv", help="a results CSV with stored codes")
    parser.add_argument("--out", default=None, help="output folder (default: beside the CSV)")
    parser.add_argument("--artifact", action="store_true",
                        help="write <csv>_artifact.csv: the stored codes scored on a class-sorted database "
                             "with ties by position, next to the default, where they differ by > 0.01")
    parser.add_argument("--superseded", metavar="OLD.csv", default=None,
                        help="write <csv>_superseded.csv: per cell, OLD.csv's mean next to the stored codes "
                             "scored the old way and the default, the change split into rule and rest")
    args = parser.parse_args(argv)
    try:
        scores = storage_order_scores(args.csv)
        if args.artifact:
            artifact = artifact_table(args.csv, scores=scores)
            print(f"wrote {write_beside(artifact, args.csv, args.out, 'artifact')}: {len(artifact)} cell(s) "
                  "differing by more than 0.01")
            print(artifact.to_string(float_format=lambda v: f"{v:.4f}"))
        if args.superseded:
            changes = superseded_table(scores, load_results(args.superseded))
            print(f"wrote {write_beside(changes, args.csv, args.out, 'superseded')}: against {args.superseded}, "
                  f"{len(changes)} cell(s) in both")
            print(changes.to_string(float_format=lambda v: f"{v:.3f}"))
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))


if __name__ == "__main__":
    main()
