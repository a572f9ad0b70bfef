"""The multi-label comparison as a grid of the runner: SSB-VAE and PHS-GS on 20 Newsgroups
relabelled as multi-label (group + hierarchy root), with the reference similarity S = A Aᵀ ("dot"),
the soft Jaccard alone, and the confidence-weighted soft Jaccard that multi-label SSB-VAE uses by
default; α/β/γ of the reference experiments' multi-label dataset (the TMC rows of the paper
preset), 30 epochs, codes stored. Resumable, as every runner grid.

    python -m experiments.multilabel.compare [--jobs 2] [--data-dir ../shared/data]
    python -m experiments.multilabel.compare --validation   # the selection grid, seed 1028
    python -m experiments.multilabel.compare --summary [--validation]

``--validation`` runs the selection grid on the full-labels protocol (docs/method.md §9): fit on the
training split, the validation split's posts as queries against it, so no test post is touched.

``results/multilabel/compare.csv`` and ``validation.csv`` are the records of the earlier script
(commit e87ab31), which also ran the candidates since removed from the package (label prior,
detached S, cosine S, calibrated predictions); this grid writes ``grid.csv`` / ``grid_validation.csv``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from ssb_vae.presets import paper_hyperparameters  # noqa: E402
from ssb_vae.runner import SEEDS, GridPoint, canonical_options, options_text, run_grid  # noqa: E402

DATASET = "20news-multilabel"
# a variant's build_model options, by method; () is the package default
VARIANTS = {
    ("ssb-vae", "jaccard+confidence"): (),
    ("ssb-vae", "jaccard"): (("confidence_weighted", False),),
    ("ssb-vae", "dot"): (("confidence_weighted", False), ("similarity", "dot")),
    ("phs-gs", "jaccard"): (),
    ("phs-gs", "dot"): (("similarity", "dot"),),
}
GRID = [(method, variant, level, bits, seed) for (method, variant) in VARIANTS
        for seed in (20, 144) for level in (0.1, 0.3) for bits in (16, 32)]
VALIDATION_GRID = [(method, variant, 0.1, bits, 1028) for bits in (32, 16)
                   for (method, variant) in (("ssb-vae", "jaccard"), ("phs-gs", "jaccard"),
                                             ("ssb-vae", "jaccard+confidence"))]


def grid_points(entries, data_dir: str, protocol: str) -> list[GridPoint]:
    """Runner grid points of ``(method, variant, level, bits, seed)`` entries."""
    return [GridPoint(dataset=DATASET, method=method, bits=bits, level=level, repetition=SEEDS.index(seed),
                      epochs=30, batch_size=100, data_dir=data_dir, protocol=protocol,
                      model_options=canonical_options(VARIANTS[method, variant]),
                      **paper_hyperparameters("tmc", bits, method, level))
            for method, variant, level, bits, seed in entries]


def variant_of(method: str, model_options: str) -> str:
    """The variant name of a row's method and ``model_options`` text."""
    names = {(m, options_text(canonical_options(options))): variant for (m, variant), options in VARIANTS.items()}
    return names.get((method, model_options), model_options or "default")


def summary(out: Path) -> str:
    """A markdown table of the CSV: per cell and variant, P@100 over seeds and the distinct codes."""
    import pandas as pd

    from ssb_vae.report import codes_table

    rows = pd.read_csv(out, keep_default_na=False)
    codes = codes_table(out)
    rows["distinct %"] = codes["distinct %"].to_numpy()
    rows["method"] = rows["algorithm"].str.lower().str.replace("_", "-")
    rows["variant"] = [variant_of(m, o) for m, o in zip(rows["method"], rows["model_options"])]
    grouped = rows.groupby(["bits", "level", "variant", "method"]).agg(
        seeds=("seed_used", "count"), p100=("p@100", "mean"), low=("p@100", "min"), high=("p@100", "max"),
        distinct=("distinct %", "mean"), distinct_min=("distinct %", "min"))
    lines = ["| bits | level | S | method | seeds | P@100 mean (min–max) | distinct codes, % of database (min) |",
             "|---|---|---|---|---|---|---|"]
    for (bits, level, variant, method), r in grouped.iterrows():
        lines.append(f"| {bits} | {level:g} | {variant.replace('+', ' + ')} | {method} | {int(r.seeds)} | "
                     f"{r.p100:.3f} ({r.low:.3f}–{r.high:.3f}) | {r.distinct:.1f} ({r.distinct_min:.1f}) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from ssb_vae.results import ResultsFile

    parser = argparse.ArgumentParser(prog="python -m experiments.multilabel.compare",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--validation", action="store_true", help="the selection grid (full-labels protocol)")
    parser.add_argument("--out", default=None,
                        help="results CSV (default: results/multilabel/grid.csv, or grid_validation.csv)")
    parser.add_argument("--summary", action="store_true", help="print the table of --out and stop")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--data-dir", default="../shared/data")
    args = parser.parse_args(argv)
    out = Path(args.out or f"results/multilabel/grid{'_validation' if args.validation else ''}.csv")
    if args.summary:
        print(summary(out))
        return 0
    entries = VALIDATION_GRID if args.validation else GRID
    points = grid_points(entries, args.data_dir, "full-labels" if args.validation else "test")
    results = ResultsFile(out)
    with results.locked():
        done = results.done_keys()
        todo = [point for point in points if point.key not in done]
        print(f"{len(points)} runs in the grid, {len(points) - len(todo)} already in {out}, {len(todo)} to run")
        return 1 if run_grid(todo, results, jobs=args.jobs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
