"""Tables and plots from a results CSV: ``python -m ssb_vae.report results/X.csv``.

The paper's table (docs/method.md §7): the mean of a metric over repetitions, one row per (dataset, bits,
algorithm), one column per supervision level, written as CSV and LaTeX. Plots: the metric against
the level, one line per method with a band from the lowest to the highest repetition.

``--recompute --out Y.csv`` and ``--verify`` rescore every row from its stored codes
(``ssb_vae.rescoring``); ``--codes`` summarises the codes behind each row.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ssb_vae.evaluation import TIE_MODES  # noqa: E402
from ssb_vae.rescoring import recompute, rows_with_codes, verify  # noqa: E402
from ssb_vae.results import COLUMNS, METRICS  # noqa: E402

ROW_KEYS = ["dataset", "bits", "algorithm"]
# what repetitions of one cell must share: a table averages over seeds only
SETTING_COLUMNS = ("alpha", "beta", "gamma", "epochs", "batch_size", "model_options", "ties", "protocol",
                   "data_digest", "optimizer")
METHOD_ORDER = ["SSB_VAE", "PHS_GS", "VDSH_S", "BVAE", "VDSH"]


def load_results(path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no results file {path}")
    content = path.read_bytes()
    if content and not content.endswith(b"\n"):  # a write that was cut off: its row is not whole
        content = content[: content.rfind(b"\n") + 1]
        print(f"{path}: ignoring an incomplete last row (a write was cut off); the next run writes it again",
              file=sys.stderr)
    try:
        results = pd.read_csv(io.BytesIO(content))
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ValueError(f"{path} is not a readable CSV ({type(error).__name__})") from None
    missing = [column for column in ("dataset", "algorithm", "level", "bits") if column not in results]
    if missing or results.empty:
        raise ValueError(f"{path} is not a results CSV of run_experiments.py (expected columns {COLUMNS[:6]}…)")
    for column in ("level", "bits", *(metric for metric in METRICS if metric in results)):
        numbers = pd.to_numeric(results[column], errors="coerce")
        bad = results[column].notna() & numbers.isna()
        if bad.any():
            line = int(bad.to_numpy().nonzero()[0][0]) + 2
            raise ValueError(f"{path}, line {line}: column {column!r} holds {results[column][bad].iloc[0]!r}, "
                             "not a number; fix or remove that row")
        results[column] = numbers
    return results


def check_one_setting(results: pd.DataFrame, path) -> None:
    """Refuses a file whose rows of one (dataset, bits, method, level) differ in anything but the
    seed: their mean would average two settings as if they were two repetitions."""
    columns = [column for column in SETTING_COLUMNS if column in results]
    settings = results[columns].astype(str).replace("nan", "")
    for cell, rows in settings.groupby([results[key] for key in ROW_KEYS + ["level"]]):
        for column in columns:
            values = sorted(rows[column].unique())
            if len(values) > 1:
                dataset, bits, algorithm, level = cell
                raise ValueError(
                    f"{path}: the rows of {dataset} {algorithm} {bits} bits level {level:g} differ in "
                    f"{column} ({', '.join(values)}); a table averages the repetitions of one setting, so "
                    "report each setting from a results file of its own (run it with another --out)")


def _rank(algorithm: str) -> int:
    return METHOD_ORDER.index(algorithm) if algorithm in METHOD_ORDER else len(METHOD_ORDER)


def _ordered(algorithms) -> list[str]:
    return sorted(algorithms, key=_rank)


def paper_table(results: pd.DataFrame, metric: str = "p@100", statistic: str = "mean") -> pd.DataFrame:
    """``statistic`` (mean, std, count) of ``metric`` over repetitions: rows (dataset, bits,
    algorithm), columns the levels. The mean is the paper's table."""
    if metric not in results:
        raise ValueError(f"no column {metric!r} in the results; columns: {', '.join(results.columns)}")
    table = results.groupby(ROW_KEYS + ["level"])[metric].agg(statistic).unstack("level")
    table.columns = [f"{level:g}" for level in table.columns]
    return table.loc[sorted(table.index, key=lambda row: (row[0], row[1], _rank(row[2])))]


def spread_table(results: pd.DataFrame, metric: str = "p@100", latex: bool = False) -> pd.DataFrame:
    """The paper's table as text cells "mean ± std" over repetitions (std with n − 1 degrees of
    freedom; the mean alone where there is one repetition)."""
    mean, std = paper_table(results, metric, "mean"), paper_table(results, metric, "std")
    plus_minus = " $\\pm$ " if latex else " ± "
    cells = [[f"{m:.3f}" + (f"{plus_minus}{s:.3f}" if pd.notna(s) else "") if pd.notna(m) else ""
              for m, s in zip(mean_row, std_row)] for mean_row, std_row in zip(mean.to_numpy(), std.to_numpy())]
    table = pd.DataFrame(cells, index=mean.index, columns=mean.columns)
    if latex:
        table.index = table.index.set_levels(table.index.levels[2].str.replace("_", "\\_"), level=2)
    return table


def degradation_table(results: pd.DataFrame, metric: str = "p@100", high: float = 1.0,
                      low: float = 0.1) -> pd.DataFrame:
    """How much ``metric`` falls from level ``high`` to ``low``, per (dataset, bits, algorithm).

    The drop is taken within each repetition (both levels share its seed), then its mean and
    standard deviation over repetitions; ``relative`` is the mean drop over the mean at ``high``.
    Rows lacking either level are left out.
    """
    keys = ROW_KEYS + ["seed_used"]
    by_level = results[results["level"].isin([high, low])].pivot_table(index=keys, columns="level",
                                                                        values=metric, aggfunc="mean")
    if high not in by_level or low not in by_level:
        return pd.DataFrame(columns=[f"{metric} at {high:g}", f"{metric} at {low:g}", "drop", "drop std",
                                     "relative drop", "repetitions"])
    by_level = by_level.dropna()
    by_level["drop"] = by_level[high] - by_level[low]
    grouped = by_level.groupby(ROW_KEYS)
    table = pd.DataFrame({f"{metric} at {high:g}": grouped[high].mean(), f"{metric} at {low:g}": grouped[low].mean(),
                          "drop": grouped["drop"].mean(), "drop std": grouped["drop"].std(),
                          "repetitions": grouped["drop"].count()})
    table["relative drop"] = table["drop"] / table[f"{metric} at {high:g}"]
    return table.loc[sorted(table.index, key=lambda row: (row[0], row[1], _rank(row[2])))]


def comparison_table(results: pd.DataFrame, metric: str = "p@100", method: str = "SSB_VAE") -> pd.DataFrame:
    """``method`` against every other method, per (dataset, bits, level): how far ahead it is, and
    how that compares with the spread over repetitions.

    Differences are paired within a repetition (same seed, so the same split and labelled items):
    ``difference`` is their mean, ``difference std`` their standard deviation, ``wins`` the number of
    repetitions where ``method`` scored higher. ``spread`` is the larger of the two methods' own
    standard deviations over repetitions, and ``difference / spread`` the ratio (blank with one
    repetition). Cells where either method is missing are left out.
    """
    keys = ["dataset", "bits", "level", "seed_used"]
    scores = results.pivot_table(index=keys, columns="algorithm", values=metric, aggfunc="mean")
    index = ["dataset", "bits", "opponent", "level"]
    empty = pd.DataFrame(columns=index + [method, "opponent score", "difference", "difference std", "spread",
                                          "difference / spread", "wins", "repetitions"]).set_index(index)
    if method not in scores:
        return empty
    rows = []
    for opponent in _ordered(scores.columns.drop(method)):
        pairs = scores[[method, opponent]].dropna()
        pairs = pairs.assign(difference=pairs[method] - pairs[opponent])
        for (dataset, bits, level), cell in pairs.groupby(level=["dataset", "bits", "level"]):
            spread = max(cell[method].std(), cell[opponent].std())
            rows.append({"dataset": dataset, "bits": bits, "level": level, "opponent": opponent,
                         method: cell[method].mean(), "opponent score": cell[opponent].mean(),
                         "difference": cell["difference"].mean(), "difference std": cell["difference"].std(),
                         "spread": spread, "difference / spread": cell["difference"].mean() / spread
                         if spread > 0 else np.nan, "wins": int((cell["difference"] > 0).sum()),
                         "repetitions": len(cell)})
    if not rows:
        return empty
    table = pd.DataFrame(rows).set_index(index)
    return table.loc[sorted(table.index, key=lambda row: (row[0], row[1], _rank(row[2]), row[3]))]


def codes_table(csv_path) -> pd.DataFrame:
    """What each row's stored codes look like (read before writing a finding): the number of
    distinct database codes, their share of the database, and the largest group of items that
    share one code, next to the row's P@100. One row per CSV row, in its order."""
    summary = []
    for row, codes in rows_with_codes(csv_path, "nothing to summarise"):
        _, sizes = np.unique(np.packbits(codes.db_codes, axis=1), axis=0, return_counts=True)
        summary.append({**{key: row[key] for key in ("dataset", "bits", "algorithm", "level", "seed_used")},
                        "p@100": float(row["p@100"]), "database": len(codes.db_codes),
                        "distinct_codes": len(sizes), "distinct %": 100 * len(sizes) / len(codes.db_codes),
                        "largest_group": int(sizes.max())})
    return pd.DataFrame(summary)


def plot_metric(results: pd.DataFrame, metric: str, dataset: str, bits: int, path: Path) -> Path:
    """One figure: ``metric`` against the level, a line per method, min–max band over repetitions."""
    subset = results[(results["dataset"] == dataset) & (results["bits"] == bits)]
    figure, axes = plt.subplots(figsize=(6.4, 4.2))
    for algorithm in _ordered(subset["algorithm"].unique()):
        stats = subset[subset["algorithm"] == algorithm].groupby("level")[metric].agg(["mean", "min", "max", "count"])
        color = f"C{_rank(algorithm)}"  # a method keeps its colour across figures
        axes.plot(stats.index, stats["mean"], marker="o", color=color, label=algorithm.replace("_", "-"))
        if (stats["count"] > 1).any():
            axes.fill_between(stats.index, stats["min"], stats["max"], color=color, alpha=0.2)
    repetitions = int(subset.groupby(["algorithm", "level"]).size().max())
    axes.set_xlabel("supervision level (fraction of labelled training items)")
    axes.set_ylabel(metric.upper() if metric.startswith("map") else metric.capitalize())
    band = f"; band: min–max over {repetitions} repetitions" if repetitions > 1 else ""
    axes.set_title(f"{dataset}, {bits} bits (mean{band})", fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _safe(metric: str) -> str:
    return metric.replace("@", "")


def plot_names(datasets) -> dict:
    """A file-name stem per dataset: its name, or the stem of its file; two files of one stem in
    different folders get a short digest of their path each, so that no plot replaces another."""
    import hashlib

    stems = {dataset: Path(str(dataset)).stem for dataset in datasets}
    shared = {stem for stem in stems.values() if list(stems.values()).count(stem) > 1}
    return {dataset: stem if stem not in shared else
            f"{stem}-{hashlib.sha256(str(dataset).encode()).hexdigest()[:6]}" for dataset, stem in stems.items()}


def write_report(csv_path, out_dir=None, metrics=("p@100",)) -> tuple[pd.DataFrame, list[Path]]:
    """Writes the table (CSV + LaTeX) of each metric, its spread over repetitions (standard
    deviation, CSV), both as "mean ± std" cells (CSV + LaTeX), its drop from level 1.0 to 0.1
    (CSV), SSB-VAE against each other method relative to the spread (CSV) and one plot per
    (dataset, bits, metric).

    Returns the table of the first metric and the paths written (beside the CSV by default).
    """
    csv_path = Path(csv_path)
    results = load_results(csv_path)
    check_one_setting(results, csv_path)
    out_dir = Path(out_dir) if out_dir else csv_path.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    written, first_table = [], None
    for metric in metrics:
        table = paper_table(results, metric)
        first_table = table if first_table is None else first_table
        stem = out_dir / f"{csv_path.stem}_{_safe(metric)}_table"
        table.to_csv(stem.with_suffix(".csv"), float_format="%.4f")
        stem.with_suffix(".tex").write_text(
            table.to_latex(float_format="%.4f", caption=f"Mean {metric} over repetitions", escape=True)
        )
        spread = out_dir / f"{csv_path.stem}_{_safe(metric)}_std.csv"
        paper_table(results, metric, "std").to_csv(spread, float_format="%.4f")
        both = out_dir / f"{csv_path.stem}_{_safe(metric)}_mean_std"
        spread_table(results, metric).to_csv(both.with_suffix(".csv"))
        both.with_suffix(".tex").write_text(spread_table(results, metric, latex=True).to_latex(
            escape=False, caption=f"{metric}: mean $\\pm$ standard deviation over repetitions"))
        degradation = out_dir / f"{csv_path.stem}_{_safe(metric)}_degradation.csv"
        degradation_table(results, metric).to_csv(degradation, float_format="%.4f")
        comparison = out_dir / f"{csv_path.stem}_{_safe(metric)}_comparison.csv"
        comparison_table(results, metric).to_csv(comparison, float_format="%.4f")
        written += [stem.with_suffix(".csv"), stem.with_suffix(".tex"), spread, both.with_suffix(".csv"),
                    both.with_suffix(".tex"), degradation, comparison]
        names = plot_names(results["dataset"].unique())
        for (dataset, bits), _ in results.groupby(["dataset", "bits"]):
            name = names[dataset]
            prefix = csv_path.stem if name == csv_path.stem else f"{csv_path.stem}_{name}"
            name = f"{prefix}_{bits}bits_{_safe(metric)}.png"
            written.append(plot_metric(results, metric, dataset, int(bits), out_dir / name))
    return first_table, written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ssb-vae report",
                                     description="Tables (CSV, LaTeX) and plots from a results CSV.")
    parser.add_argument("csv", help="a results CSV written by run_experiments.py")
    parser.add_argument("--metric", nargs="+", default=["p@100"],
                        help="metric columns to tabulate and plot (default: p@100)")
    parser.add_argument("--out", default=None,
                        help="output folder (default: beside the CSV); with --recompute, the new CSV")
    parser.add_argument("--recompute", action="store_true",
                        help="rescore every row from its stored codes into the CSV --out, then report it")
    parser.add_argument("--ties", choices=TIE_MODES, default="expected",
                        help="with --recompute: the tie mode of the new metric columns (docs/method.md §6)")
    parser.add_argument("--seed", type=int, default=None,
                        help="with --recompute --ties random: the order's seed (default: each row's seed)")
    parser.add_argument("--force", action="store_true", help="with --recompute: replace an existing --out")
    parser.add_argument("--verify", action="store_true",
                        help="recompute every row from its stored codes and check it equals the CSV; "
                             "exit with status 1 listing the cells that differ")
    parser.add_argument("--codes", action="store_true",
                        help="also write <csv>_codes_summary.csv: per row, the distinct database codes "
                             "and the largest group of items sharing one code")
    args = parser.parse_args(argv)
    if args.verify:
        try:
            differences = verify(args.csv)
        except (ValueError, FileNotFoundError) as error:
            parser.error(str(error))
        print("\n".join(differences) or f"every metric of every row of {args.csv} recomputes exactly "
                                        "from its stored codes")
        raise SystemExit(1 if differences else 0)
    try:
        source, out_dir = args.csv, args.out
        if args.recompute:
            if not args.out:
                raise ValueError("--recompute needs --out NEW.csv (the input is never modified)")
            source = recompute(args.csv, args.out, args.ties, args.seed, args.force)
            out_dir = None
            print(f"recomputed every row of {args.csv} with ties={args.ties} into {source}")
        table, written = write_report(source, out_dir, args.metric)
        if args.codes:
            summary = codes_table(source)
            written.append(write_beside(summary, source, out_dir, "codes_summary", index=False))
            print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    except (ValueError, OSError) as error:
        parser.error(str(error))
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    print("wrote " + ", ".join(str(path) for path in written))


def write_beside(table: pd.DataFrame, source, out_dir, name: str, index: bool = True) -> Path:
    """Writes ``table`` as ``<source stem>_<name>.csv`` in ``out_dir`` (default: beside ``source``)."""
    path = Path(out_dir or Path(source).parent) / f"{Path(source).stem}_{name}.csv"
    table.to_csv(path, index=index, float_format="%.4f")
    return path


if __name__ == "__main__":
    from ssb_vae.cli import run_command

    sys.exit(run_command(main, prog="ssb-vae report"))
