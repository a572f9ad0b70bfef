"""The paper preset against the validated presets, cell by cell (16 bits, three seeds): test P@100
mean ± std, distinct database codes, and the α, γ of each; then SSB-VAE against the validated
baselines at the low levels, relative to the spread over seeds.

    python -m experiments.validated.compare [--levels 0.1 0.2 0.3]

Reads results/paper_preset/<dataset>.csv, results/validated/<dataset>.csv (whatever part of the
study is done), their stored codes and results/validated/preset.csv; writes
results/validated/comparison.csv and prints both tables as Markdown.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from ssb_vae.presets import paper_hyperparameters, read_preset
from ssb_vae.report import codes_table, comparison_table, load_results

PAPER, VALIDATED = Path("results/paper_preset"), Path("results/validated")
DATASETS, BITS = ("20news", "snippets"), 16
METHODS = {"SSB_VAE": "ssb-vae", "PHS_GS": "phs-gs", "VDSH_S": "vdsh-s"}


def per_cell(csv_path: Path) -> pd.DataFrame:
    """Per (method, level) at 16 bits: P@100 mean, std, repetitions, and mean distinct-code share."""
    results = load_results(csv_path)
    results = results[results["bits"] == BITS]
    codes = codes_table(csv_path).astype({"bits": int, "level": float})  # read as the CSV's text
    codes = codes[codes["bits"] == BITS].groupby(["algorithm", "level"])["distinct %"].mean()
    cells = results.groupby(["algorithm", "level"])["p@100"].agg(["mean", "std", "count"])
    return cells.join(codes.rename("distinct %"))


def comparison(dataset: str, preset: pd.DataFrame) -> pd.DataFrame:
    paper = per_cell(PAPER / f"{dataset}.csv")
    validated_path = VALIDATED / f"{dataset}.csv"
    validated = per_cell(validated_path) if validated_path.exists() else paper.iloc[0:0]
    rows = []
    for (algorithm, level), before in sorted(paper.iterrows(), key=lambda cell: (list(METHODS).index(cell[0][0]),
                                                                                  cell[0][1])):
        method = METHODS[algorithm]
        weights = paper_hyperparameters(dataset, BITS, method, level)
        chosen = preset[(preset["dataset"] == dataset) & (preset["method"] == method)
                        & (preset["bits"] == BITS) & ((preset["level"] - level).abs() < 1e-9)]
        after = validated.loc[(algorithm, level)] if (algorithm, level) in validated.index else None
        rows.append({
            "dataset": dataset, "method": method, "level": level,
            "paper alpha": weights["alpha"], "paper gamma": weights["gamma"],
            "paper p@100": before["mean"], "paper std": before["std"], "paper distinct %": before["distinct %"],
            "validated alpha": chosen["alpha"].iloc[0] if len(chosen) else float("nan"),
            "validated gamma": chosen["gamma"].iloc[0] if len(chosen) else float("nan"),
            "validation score": chosen["score"].iloc[0] if len(chosen) else float("nan"),
            "validated p@100": after["mean"] if after is not None else float("nan"),
            "validated std": after["std"] if after is not None else float("nan"),
            "validated repetitions": int(after["count"]) if after is not None else 0,
            "validated distinct %": after["distinct %"] if after is not None else float("nan"),
        })
    return pd.DataFrame(rows)


def _score(mean: float, std: float) -> str:
    return "–" if pd.isna(mean) else f"{mean:.3f} ± {std:.3f}"


def markdown(table: pd.DataFrame) -> str:
    lines = ["| dataset | method | level | paper α / γ | paper P@100 | paper distinct | validated α / γ | "
             "validated P@100 | validated distinct |", "|---|---|---|---|---|---|---|---|---|"]
    for values in table.to_dict("records"):
        chosen = "–" if pd.isna(values["validated alpha"]) else \
            f"{values['validated alpha']:.3g} / {values['validated gamma']:.3g}"
        distinct = "–" if pd.isna(values["validated distinct %"]) else f"{values['validated distinct %']:.1f}%"
        lines.append(
            f"| {values['dataset']} | {values['method']} | {values['level']:g} "
            f"| {values['paper alpha']:.3g} / {values['paper gamma']:.3g} "
            f"| {_score(values['paper p@100'], values['paper std'])} | {values['paper distinct %']:.1f}% "
            f"| {chosen} | {_score(values['validated p@100'], values['validated std'])} | {distinct} |")
    return "\n".join(lines)


def rivals(levels: list[float]) -> str:
    """SSB-VAE against the validated PHS-GS and VDSH-S (paired by seed), at ``levels``."""
    lines = ["| dataset | level | opponent | SSB-VAE | opponent | difference | difference / spread | wins |",
             "|---|---|---|---|---|---|---|---|"]
    for dataset in DATASETS:
        path = VALIDATED / f"{dataset}.csv"
        if not path.exists():
            continue
        results = load_results(path)
        table = comparison_table(results[results["bits"] == BITS]).reset_index()
        for values in table[table["level"].isin(levels)].to_dict("records"):
            lines.append(f"| {dataset} | {values['level']:g} | {values['opponent'].replace('_', '-')} | {values['SSB_VAE']:.3f} "
                         f"| {values['opponent score']:.3f} | {values['difference']:+.3f} "
                         f"| {values['difference / spread']:+.1f} | {values['wins']} / {values['repetitions']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", nargs="+", type=float, default=[0.1, 0.2, 0.3],
                        help="levels of the SSB-VAE-against-baselines table")
    args = parser.parse_args()
    preset = read_preset(VALIDATED / "preset.csv")
    table = pd.concat([comparison(dataset, preset) for dataset in DATASETS], ignore_index=True)
    table.to_csv(VALIDATED / "comparison.csv", index=False, float_format="%.6g")
    print(markdown(table))
    print(f"\n(written to {VALIDATED / 'comparison.csv'})\n")
    print(rivals(args.levels))


if __name__ == "__main__":
    main()
