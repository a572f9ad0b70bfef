"""``ssb-vae tune`` / ``python -m ssb_vae.tune``: choose α, β, γ per cell on validation data and
write a preset that ``run_experiments.py --preset FILE`` reads (docs/method.md §9).

    ssb-vae tune --dataset 20news --methods ssb-vae --levels 0.1 --trials 16 --out presets/20news.csv

A second run with the same options continues each cell up to --trials; a killed tune loses only
the trials in flight. Beside the preset: ``<name>.db`` (the Optuna storage, the record of every
trial), ``<name>_trials.csv`` (every trial's weights and scores) and ``<name>_plots/`` (one plot
per cell).
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from ssb_vae.presets import PRESET_COLUMNS  # noqa: E402
from ssb_vae.runner import (add_grid_arguments, canonical_options, check_options, corpus_options,  # noqa: E402
                            dataset_digest, default_batch_size, fast_settings, grid_values, loss_weight,
                            split_metric)
from ssb_vae.tuning import MIN_DISTINCT, TUNE_PROTOCOLS, Cell, search_space  # noqa: E402


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ssb-vae tune",
        description="Choose α, β, γ for each (dataset, method, bits, level) on validation data with "
                    "Optuna (docs/method.md §9); write them as a preset for run_experiments.py --preset.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_grid_arguments(p)
    p.add_argument("--trials", type=int, default=16, help="trials per cell (a rerun continues up to this many)")
    p.add_argument("--protocol", choices=TUNE_PROTOCOLS, default="realistic",
                   help="'realistic' = only the labels the level makes available (labelled validation items "
                        "against labelled training items); 'full-labels' = every validation item against the "
                        "whole training part with all labels, for comparison only")
    p.add_argument("--metric", default="p@100",
                   help="what a trial maximizes, at K scaled to the protocol's database (docs/method.md §9)")
    p.add_argument("--min-distinct", type=float, default=MIN_DISTINCT,
                   help="a trial whose codes of the training items are fewer than this share of them "
                        "distinct scores 0 (a code per class is a classifier, not a hash); 0: no such rule")
    p.add_argument("--search-beta", action="store_true",
                   help="search β as well (log-uniform in [1e-3, 1]); default: the paper's β for the cell")
    p.add_argument("--alpha", type=loss_weight, help="fix α instead of searching it")
    p.add_argument("--beta", type=loss_weight, help="fix β")
    p.add_argument("--gamma", type=loss_weight, help="fix γ instead of searching it")
    p.add_argument("--seed", type=int, default=0, help="seeds the sampler; trials train with seed 20")
    p.add_argument("--storage", default=None,
                   help="Optuna storage URL (None: sqlite beside --out, <name>.db); a shared database "
                        "(e.g. postgresql://…) for --backend ray on several machines")
    p.add_argument("--recheck", action="store_true",
                   help="fit the chosen settings of the selected cells the study's way again, on this machine, "
                        "replacing their stored checks (a check depends on the processor and the threads per "
                        "process; run it where the study runs; docs/tuning.md)")
    p.add_argument("--out", required=True, help="the preset CSV to write (cells already in it are kept)")
    p.add_argument("--no-plots", action="store_true", help="skip the per-cell plots")
    return p


def build_cells(args) -> list[Cell]:
    """Every (dataset, method, bits, level) of the command line, checked before anything trains."""
    if args.trials < 1:
        raise ValueError(f"--trials must be at least 1, got {args.trials}")
    methods, levels = grid_values(args)
    split_metric(args.metric)
    if not 0 <= args.min_distinct <= 1:
        raise ValueError(f"--min-distinct is a share of the training items, in [0, 1]; got {args.min_distinct}")
    fixed = {name: getattr(args, name) for name in ("alpha", "beta", "gamma") if getattr(args, name) is not None}
    storage = args.storage or f"sqlite:///{default_storage(Path(args.out)).resolve()}"
    fast_options, optimizer = fast_settings(args)
    options = canonical_options([*(args.model_option or ()), *fast_options])
    cells = []
    for dataset in dict.fromkeys(args.dataset):
        for bits in dict.fromkeys(args.bits):
            for method in methods:
                for level in levels:
                    space, kept = search_space(method, dataset, bits, level, args.search_beta, fixed)
                    cells.append(Cell(
                        dataset=dataset, method=method, bits=bits, level=level, protocol=args.protocol,
                        metric=args.metric, epochs=args.epochs,
                        batch_size=args.batch_size or default_batch_size(dataset), space=space, fixed=kept,
                        seed=args.seed, trials=args.trials, storage=storage, data_dir=str(args.data_dir),
                        cache_dir=args.cache_dir, ties=args.ties,
                        corpus_options=corpus_options(args, dataset), model_options=options,
                        min_distinct=args.min_distinct, optimizer=optimizer, data_digest=dataset_digest(dataset, args.data_dir, corpus_options(args, dataset))))
    return cells


def same_cell(stored: dict, identity: dict) -> bool:
    """Whether a cell read back from the storage (its tuples now JSON lists) is ``identity``."""
    import json

    return json.dumps(stored, sort_keys=True, default=list) == json.dumps(identity, sort_keys=True, default=list)


def default_storage(out: Path) -> Path:
    return out.with_name(out.stem + ".db")


def check_cells(cells: list[Cell]) -> None:
    """Loads each dataset once and refuses, before anything trains, what a trial would fail on:
    model options a method does not take, a level whose labelled validation part is empty."""
    from ssb_vae.protocols import protocol_parts

    for cell in {cell.dataset: cell for cell in cells}.values():
        point = cell.point(dict(cell.fixed, **{name: low for name, low, _ in cell.space}))
        data = point.load()
        check_options(point, data, {c.method for c in cells})
        if data.dropped_note():
            print(f"note: {data.dropped_note()}", file=sys.stderr)
        for level in {c.level for c in cells if c.dataset == cell.dataset}:
            protocol_parts(data, level, point.seed, cell.protocol)


def check_out(out: Path) -> None:
    """``--out`` must be a preset this command wrote, or nothing yet."""
    import pandas as pd

    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give a file name such as {out / 'preset.csv'}")
    if out.exists():
        try:
            columns = tuple(pd.read_csv(out, nrows=0).columns)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            columns = ()
        if columns not in (PRESET_COLUMNS, PRESET_COLUMNS[:-1]):  # [:-1]: written before study fits
            raise ValueError(f"--out {out} exists and is not a preset written by ssb-vae tune; "
                             "give another file name (nothing was written)")


def write_outputs(out: Path, storage: str, plots: bool) -> list:
    """The preset, the trials table and the plots, from the storage (the record of the tune).
    Preset rows of cells this storage does not hold are kept."""
    import pandas as pd

    from ssb_vae.files import replacing
    from ssb_vae.tuning import plot_cell, preset_rows, stored_cells, trial_rows

    results = stored_cells(storage)
    rows = pd.DataFrame(preset_rows(results), columns=list(PRESET_COLUMNS))
    if out.exists():
        kept = pd.read_csv(out, dtype={"dataset": str})
        key = ["dataset", "bits", "method", "level", "protocol", "metric", "seed"]
        merged = kept.merge(rows[key], on=key, how="left", indicator=True)
        rows = pd.concat([kept[(merged["_merge"] == "left_only").to_numpy()], rows], ignore_index=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    with replacing(out) as temporary:
        rows.to_csv(temporary, index=False)
    trials_path = out.with_name(out.stem + "_trials.csv")
    with replacing(trials_path) as temporary:
        pd.DataFrame(trial_rows(results)).to_csv(temporary, index=False)
    if plots:
        for result in results:
            plot_cell(result, out.with_name(out.stem + "_plots") / f"{result.label}.png")
    return results


def main(argv: list[str] | None = None) -> int:
    from filelock import FileLock, Timeout

    from ssb_vae.data import DatasetNotFoundError
    from ssb_vae.parallel import check_backend, execute
    from ssb_vae.tuning import create_cell_study, discard_study_fits, open_storage, quiet_optuna, tune_cell

    arg_parser = parser()
    args = arg_parser.parse_args(argv)
    out = Path(args.out)
    with ExitStack() as held:
        try:
            check_out(out)
            cells = build_cells(args)
            check_backend(args.backend)
            out.parent.mkdir(parents=True, exist_ok=True)
            lock = FileLock(out.with_name(out.name + ".lock"), timeout=0)
            try:
                held.enter_context(lock)
            except Timeout:
                raise ValueError(f"another tune is writing {out} (it holds {lock.lock_file}); wait for it "
                                 "to finish, or give another --out") from None
            check_cells(cells)
        except (ValueError, DatasetNotFoundError) as error:
            arg_parser.error(str(error))
        storage = cells[0].storage
        quiet_optuna()
        shared = open_storage(storage)  # the schema and every cell's study, before any worker starts
        for cell in cells:
            create_cell_study(cell, shared)
            if args.recheck and discard_study_fits(cell, shared):
                print(f"{cell.dataset} {cell.method} {cell.bits} bits level {cell.level:g}: its choice is "
                      "checked again on this machine (the earlier checks stay in the storage)")
        print(f"{len(cells)} cells × {args.trials} trials, {args.protocol} protocol; storage {storage}")
        failures = 0

        def on_result(cell: Cell, error: str | None) -> None:
            nonlocal failures
            if error is not None:
                failures += 1
                print(f"FAILED {cell.dataset} {cell.method} {cell.bits} bits level {cell.level:g}: {error}",
                      file=sys.stderr)
            results = write_outputs(out, storage, plots=not args.no_plots)
            for result in results:
                if same_cell(result.identity, cell.identity) and result.best is not None:
                    weights = {**dict(cell.fixed), **result.best.params}
                    print(f"{cell.dataset} {cell.method} {cell.bits} bits level {cell.level:g}: "
                          f"{cell.metric}={result.best.value:.4f} at "
                          + ", ".join(f"{name}={value:.4g}" for name, value in sorted(weights.items()))
                          + f" ({len(result.counted)} trials)")
                    share = result.study_fit.get(result.best.number)
                    if share is not None and share < cell.min_distinct:
                        print(f"note: none of the {len(result.candidates)} settings of this cell that kept their codes "
                              f"apart in their trials kept {cell.min_distinct:.0%} distinct when fitted as the study fits "
                              f"(training ∪ validation); the preset holds the least collapsed ({share:.1%}). "
                              "Run more trials, or widen the search space", file=sys.stderr)
                    if result.best.value == 0 and cell.min_distinct > 0:
                        print(f"note: no trial of this cell kept {cell.min_distinct:.0%} of its training codes "
                              "distinct; its preset is a collapsed setting (score 0). Run more trials, or "
                              "widen the search space", file=sys.stderr)

        execute(tune_cell, cells, on_result, jobs=args.jobs, backend=args.backend, ray_address=args.ray_address)
        print(f"wrote {out}, {out.stem}_trials.csv" + ("" if args.no_plots else f", {out.stem}_plots/"))
        return 1 if failures else 0


if __name__ == "__main__":
    from ssb_vae.cli import run_command

    sys.exit(run_command(main, prog="ssb-vae tune"))
