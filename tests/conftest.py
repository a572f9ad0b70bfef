import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import csv  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


# For the NaN tests: α·γ = 1e76 is meant to overflow float32 so that the loss becomes non-finite.
expected_float32_overflow = pytest.mark.filterwarnings(
    "ignore:overflow encountered in cast:RuntimeWarning"
)


def rows_of(path) -> list[dict]:
    """The rows of a CSV as dicts of text, as a results file holds them."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real data not available: {path} is missing")
    return path


@pytest.fixture(scope="session")
def digits():
    from ssb_vae.data import load_dataset

    return load_dataset("digits")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
