"""Hyper-parameters: the package defaults, the reference experiments' α, β, γ (docs/method.md §8), and
presets chosen on validation data by ``ssb-vae tune`` (docs/method.md §9)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd

PAPER_FILE = "paper_hyperparameters.csv"
DATASET_NAMES = {"cifar": "cifar10"}
CELL_COLUMNS = ("dataset", "bits", "method", "level")
# a tuned preset starts with the paper table's columns, then says how it was chosen
# (study_fit_distinct: the chosen setting's distinct share when fitted as the study fits it)
PRESET_COLUMNS = (*CELL_COLUMNS, "alpha", "beta", "gamma", "protocol", "metric", "score", "trials", "seed",
                  "min_distinct", "study_fit_distinct")  # names in the reference table → names in this package

# Used when no preset applies (e.g. digits, a user's corpus). Not from the reference experiments:
# they keep each term of docs/method.md §3 of the same order on small data.
DEFAULTS = {
    "vdsh": {"alpha": 0.0, "beta": 0.0625, "gamma": 0.0},
    "bvae": {"alpha": 0.0, "beta": 0.015625, "gamma": 0.0},
    "vdsh-s": {"alpha": 1.0, "beta": 0.0625, "gamma": 0.0},
    "phs-gs": {"alpha": 0.01, "beta": 0.015625, "gamma": 1000.0},
    "ssb-vae": {"alpha": 0.01, "beta": 0.015625, "gamma": 1000.0},
}


class PresetMissingError(LookupError):
    """The reference table has no entry for a (dataset, bits, method, level) combination."""


@lru_cache(maxsize=1)
def paper_table() -> pd.DataFrame:
    """The shipped table of the reference experiments, with this package's dataset/method names."""
    with resources.files("ssb_vae").joinpath(PAPER_FILE).open() as handle:
        table = pd.read_csv(handle)
    table["dataset"] = table["dataset"].replace(DATASET_NAMES)
    table["method"] = table["method"].str.lower()
    return table


def _lookup(table: pd.DataFrame, dataset: str, bits: int, method: str, level: float) -> pd.DataFrame:
    return table[(table["dataset"] == dataset) & (table["bits"] == bits) & (table["method"] == method)
                 & ((table["level"] - level).abs() < 1e-9)]


def paper_hyperparameters(dataset: str, bits: int, method: str, level: float) -> dict[str, float]:
    """α, β, γ of the reference experiments for one grid point, or ``PresetMissingError``."""
    table = paper_table()
    rows = _lookup(table, dataset, bits, method, level)
    if rows.empty:
        raise PresetMissingError(
            f"the paper preset has no entry for dataset={dataset}, bits={bits}, method={method}, "
            f"level={level}; give --alpha, --beta and --gamma explicitly (the preset covers "
            f"{', '.join(sorted(table['dataset'].unique()))} at 16/32 bits for vdsh-s, phs-gs, ssb-vae)"
        )
    return _weights(rows.iloc[0])


def _weights(row) -> dict[str, float]:
    return {"alpha": float(row["alpha"]), "beta": float(row["beta"]), "gamma": float(row["gamma"])}


def read_preset(path) -> pd.DataFrame:
    """A tuned preset file (``ssb-vae tune --out``), checked, with lower-case method names."""
    path = Path(path)
    if not path.is_file():
        raise PresetMissingError(f"--preset {path}: no such file (expected default, paper or a PRESET.csv "
                                 "written by ssb-vae tune)")
    try:
        table = pd.read_csv(path, dtype={"dataset": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise PresetMissingError(f"--preset {path} is not a readable CSV ({error})") from None
    missing = [column for column in (*CELL_COLUMNS, "alpha", "beta", "gamma") if column not in table.columns]
    if missing:
        raise PresetMissingError(f"--preset {path} lacks the column(s) {', '.join(missing)}; a preset holds "
                                 f"{', '.join(PRESET_COLUMNS)}")
    table["method"] = table["method"].str.lower()
    return table


def preset_hyperparameters(preset: str, dataset: str, bits: int, method: str, level: float) -> dict[str, float]:
    """α, β, γ for one grid point from ``preset``: "default", "paper", or a tuned PRESET.csv."""
    if preset == "default":
        return dict(DEFAULTS[method])
    if preset == "paper":
        return paper_hyperparameters(dataset, bits, method, level)
    rows = _lookup(read_preset(preset), dataset, bits, method, level)
    if len(rows) != 1:
        problem = "has no row" if rows.empty else f"has {len(rows)} rows"
        raise PresetMissingError(
            f"--preset {preset} {problem} for dataset={dataset}, bits={bits}, method={method}, level={level:g}"
            + ("; tune that cell (ssb-vae tune … --out the same file) or give --alpha, --beta and --gamma"
               if rows.empty else "; keep one row per cell"))
    return _weights(rows.iloc[0])
