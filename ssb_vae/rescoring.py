"""Rescoring a results CSV from its stored codes (docs/method.md §7), without training and without
TensorFlow: ``recompute`` under another tie mode (docs/method.md §6), ``verify`` that every number
of a CSV is what its codes give. The command line is ``ssb-vae report --recompute`` / ``--verify``.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from ssb_vae.codes import load_codes
from ssb_vae.evaluation import TIE_MODES, evaluate
from ssb_vae.results import METRIC_KS, METRICS, POSITION_TIES_COLUMNS, READABLE_LAYOUTS, row_key, write_rows


def rows_with_codes(csv_path, purpose: str):
    """Each row of a results CSV with its stored codes; a ValueError naming ``purpose`` if the CSV
    stores none."""
    csv_path = Path(csv_path)
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "codes_file" not in rows[0]:
        raise ValueError(f"{csv_path} has no stored codes: {purpose}")
    for row in rows:
        yield row, load_codes(csv_path.parent / row["codes_file"])


def _read_scored_csv(csv_path) -> list[dict]:
    """The rows of a results CSV with stored codes, or a ValueError saying why it has none."""
    csv_path = Path(csv_path)
    if not csv_path.exists():
        raise FileNotFoundError(f"no results file {csv_path}")
    with open(csv_path, newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = tuple(reader.fieldnames or ()), list(reader)
    if header == POSITION_TIES_COLUMNS:
        raise ValueError(f"{csv_path} was written before codes were stored: its rows cannot be "
                         "recomputed without training them again")
    if header not in READABLE_LAYOUTS:
        raise ValueError(f"{csv_path} is not a results CSV of run_experiments.py with stored codes")
    return rows


def _rescore(csv_path: Path, number: int, row: dict, ties: str, seed: int | None) -> dict:
    """The metrics of one row (CSV line ``number``) recomputed from its stored codes."""
    codes_path = csv_path.parent / row["codes_file"]
    codes = load_codes(codes_path)
    if row_key(codes.key) != row_key(row):
        raise ValueError(f"{csv_path}, line {number}: {codes_path} holds the codes of another run")
    return evaluate(codes.db_codes, codes.query_codes, codes.db_labels, codes.query_labels,
                    ks=METRIC_KS, ties=ties, seed=int(row["seed_used"]) if seed is None else seed)


def recompute(csv_path, out_path, ties: str = "expected", seed: int | None = None,
              force: bool = False) -> Path:
    """Rescores every row of a results CSV from its stored codes and writes them to ``out_path``.

    The metric columns and ``ties`` are replaced; every other column is copied as written (the
    timings stay those of the original runs). ``ties="random"`` draws each row's order from
    ``seed``, or from the row's own seed when ``seed`` is None. The input is never modified, and
    an existing ``out_path`` is replaced only with ``force``.
    """
    csv_path, out_path = Path(csv_path), Path(out_path)
    if ties not in TIE_MODES:
        raise ValueError(f"unknown ties mode {ties!r}; valid modes: {', '.join(TIE_MODES)}")
    rows = _read_scored_csv(csv_path)
    if out_path.resolve() == csv_path.resolve():
        raise ValueError("--out must name a new file: the input CSV is never modified")
    if out_path.exists() and not force:
        raise ValueError(f"{out_path} exists; pass --force to replace it, or choose another --out")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    for number, row in enumerate(rows, start=2):
        scores = _rescore(csv_path, number, row, ties, seed)
        row.update({metric: scores[metric] for metric in METRICS}, ties=ties,
                   codes_file=Path(os.path.relpath(csv_path.parent / row["codes_file"], out_path.parent)).as_posix())
    write_rows(out_path, rows)
    return out_path


def verify(csv_path) -> list[str]:
    """Recomputes every row's metrics from its stored codes, under the row's own tie mode, and
    returns one line per cell that differs from the CSV (empty: every number is reproduced)."""
    csv_path = Path(csv_path)
    differences = []
    rows = _read_scored_csv(csv_path)
    if not rows:
        raise ValueError(f"{csv_path} holds no rows, so there is nothing to verify")
    for number, row in enumerate(rows, start=2):
        scores = _rescore(csv_path, number, row, row["ties"], None)
        differences += [f"{csv_path}, line {number}, {metric}: CSV {row[metric]}, codes give {scores[metric]!r}"
                        for metric in METRICS if float(row[metric]) != scores[metric]]
    return differences
