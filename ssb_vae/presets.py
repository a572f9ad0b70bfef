"""Hyper-parameters: the reference experiments' α, β, γ (docs/method.md §8) and the package defaults."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd

PAPER_FILE = "paper_hyperparameters.csv"
DATASET_NAMES = {"cifar": "cifar10"}  # names in the reference table → names in this package

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


def paper_hyperparameters(dataset: str, bits: int, method: str, level: float) -> dict[str, float]:
    """α, β, γ of the reference experiments for one grid point, or ``PresetMissingError``."""
    table = paper_table()
    rows = table[
        (table["dataset"] == dataset)
        & (table["bits"] == bits)
        & (table["method"] == method)
        & ((table["level"] - level).abs() < 1e-9)
    ]
    if rows.empty:
        raise PresetMissingError(
            f"the paper preset has no entry for dataset={dataset}, bits={bits}, method={method}, "
            f"level={level}; give --alpha, --beta and --gamma explicitly (the preset covers "
            f"{', '.join(sorted(table['dataset'].unique()))} at 16/32 bits for vdsh-s, phs-gs, ssb-vae)"
        )
    row = rows.iloc[0]
    return {"alpha": float(row["alpha"]), "beta": float(row["beta"]), "gamma": float(row["gamma"])}
