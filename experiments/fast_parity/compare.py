"""The fast path against exact Adam, cell by cell (issue 23's parity rule).

    python -m experiments.fast_parity.compare

For every (dataset, method, level) of results/fast_parity/<dataset>.csv (``--fast``), the same cell
of the paper-preset study (results/paper_preset/<dataset>.csv, 16 bits, exact Adam, the same seeds):
test P@100 mean and std over the seeds, mean distinct database codes. A cell is at parity when
|Δ mean P@100| ≤ max(0.015, the larger of the two seed stds) and its distinct codes do not fall by
more than half; the fast path passes when at least 16 of the 18 cells are. Writes
results/fast_parity/parity.csv and prints it as Markdown.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from experiments.validated.compare import DATASETS, per_cell

EXACT, FAST = Path("results/paper_preset"), Path("results/fast_parity")
TOLERANCE, CELLS, CELLS_NEEDED = 0.015, 18, 16  # 2 datasets × 3 methods × 3 levels


def parity(dataset: str) -> pd.DataFrame:
    fast = per_cell(FAST / f"{dataset}.csv")
    exact = per_cell(EXACT / f"{dataset}.csv")
    table = fast.merge(exact, left_index=True, right_index=True, suffixes=(" fast", " exact")).reset_index()
    table.insert(0, "dataset", dataset)
    table["difference"] = table["mean fast"] - table["mean exact"]
    table["allowed"] = table[["std fast", "std exact"]].max(axis=1).clip(lower=TOLERANCE)
    table["codes kept"] = table["distinct % fast"] >= table["distinct % exact"] / 2
    table["parity"] = (table["difference"].abs() <= table["allowed"]) & table["codes kept"]
    return table


def main() -> None:
    table = pd.concat([parity(dataset) for dataset in DATASETS if (FAST / f"{dataset}.csv").exists()],
                      ignore_index=True)
    table.to_csv(FAST / "parity.csv", index=False, float_format="%.6g")
    print("| dataset | method | level | exact P@100 | fast P@100 | Δ | allowed | distinct exact → fast | parity |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in table.to_dict("records"):
        print(f"| {row['dataset']} | {row['algorithm']} | {row['level']:g} | {row['mean exact']:.3f} ± {row['std exact']:.3f} "
              f"| {row['mean fast']:.3f} ± {row['std fast']:.3f} ({row['count fast']}) | {row['difference']:+.3f} "
              f"| {row['allowed']:.3f} | {row['distinct % exact']:.1f}% → {row['distinct % fast']:.1f}% "
              f"| {'yes' if row['parity'] else 'no'} |")
    passed = int(table["parity"].sum())
    if len(table) < CELLS:
        verdict = "not decided: cells are missing"
    else:
        verdict = "holds" if passed >= CELLS_NEEDED else "does not hold"
    print(f"\n{passed} of {len(table)} cells at parity (needed: {CELLS_NEEDED} of {CELLS}): parity {verdict}")


if __name__ == "__main__":
    main()
