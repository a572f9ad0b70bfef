"""The validated tune, cell by cell: the chosen weights, the validation score, the trials, and what
pruning saved. Reads the tune's trials table (written from its Optuna storage).

    python -m experiments.validated.summary [results/validated/preset_trials.csv]

The chosen trial is the one the trials table marks ``chosen`` (the tune checks it on the study's
fit, docs/tuning.md); in a table from before that column, the best finished trial. Saved time: a
pruned trial's seconds against the median seconds of the cell's finished trials,
which is what it would have cost had it run all its epochs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

DEFAULT = Path("results/validated/preset_trials.csv")
COUNTED = ("COMPLETE", "PRUNED")


def cell_summary(trials: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (dataset, method, bits, level), cell in trials.groupby(["dataset", "method", "bits", "level"], sort=False):
        finished = cell[cell["state"] == "COMPLETE"]
        pruned = cell[cell["state"] == "PRUNED"]
        if finished.empty:
            continue
        if "chosen" in cell and cell["chosen"].any():
            best = cell[cell["chosen"]].iloc[0]
        else:  # a trials table written before the choice was checked on the study's fit
            best = finished.sort_values(["score", "trial"], ascending=[False, True]).iloc[0]
        full = finished["seconds"].median()
        spent = finished["seconds"].sum() + pruned["seconds"].sum()
        rows.append({"dataset": dataset, "method": method, "bits": bits, "level": level,
                     "trials": int(cell["state"].isin(COUNTED).sum()), "pruned": len(pruned),
                     "alpha": best["alpha"], "gamma": best["gamma"], "validation": best["score"],
                     "distinct_codes": best["distinct_codes"], "database_items": best["database_items"],
                     "study_fit": best.get("study_fit_distinct", float("nan")),
                     "hours": spent / 3600, "cost_vs_unpruned": spent / (full * (len(finished) + len(pruned)))})
    return pd.DataFrame(rows)


def markdown(summary: pd.DataFrame) -> str:
    lines = ["| dataset | method | level | trials (pruned) | α | γ | validation P@K' | distinct codes / items | "
             "study fit distinct | cost with pruning |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row in summary.itertuples():
        lines.append(f"| {row.dataset} | {row.method} | {row.level:g} | {row.trials} ({row.pruned}) | {row.alpha:.3g} "
                     f"| {row.gamma:.3g} | {row.validation:.3f} | {row.distinct_codes:.0f} / {row.database_items:.0f} "
                     f"| {'–' if pd.isna(row.study_fit) else f'{row.study_fit:.1%}'} | {row.cost_vs_unpruned:.0%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trials", nargs="?", default=str(DEFAULT))
    args = parser.parse_args()
    summary = cell_summary(pd.read_csv(args.trials))
    print(markdown(summary))
    total = summary["hours"].sum()
    print(f"\n{len(summary)} cells, {total:.1f} hours of trials; all cells together cost "
          f"{(summary['hours'].sum() / (summary['hours'] / summary['cost_vs_unpruned']).sum()):.0%} of the same "
          "trials run to the end")


if __name__ == "__main__":
    main()
