"""Hash a dataset with a saved model: ``python -m ssb_vae.hashing MODEL.keras --dataset NAME --out FILE``.

Writes the codes (uint8 0/1, items × bits) of the database or query items as ``.npy``, or as
text (one line of 0/1 per item) when FILE ends in ``.txt``. An existing FILE is not replaced
unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ssb_vae.files import replacing


SUFFIXES = (".npy", ".txt")


def check_vocabulary(model_path, data) -> None:
    """Refuses a text dataset whose features are not those the model was trained on: the model's
    saved pipeline (``MODEL.pipeline.json``) must be the dataset's, vocabulary for vocabulary."""
    from ssb_vae.data.pipeline import TextPipeline, pipeline_path

    if data.text_pipeline is None:
        return  # features that are not text: only their count can be checked (by hash_codes)
    saved = pipeline_path(model_path)
    if not saved.exists():
        raise ValueError(f"{model_path} has no text pipeline beside it ({saved.name}), so nothing says its "
                         f"features are those of {data.name}; save the model with run_experiments.py "
                         "--save-models, which writes the pipeline")
    if TextPipeline.load(saved).digest() != data.text_pipeline.digest():
        raise ValueError(f"{data.name} is vectorized with another vocabulary than the one {model_path} was "
                         "trained on, so its codes would mean nothing; to hash new documents with this "
                         "model, use `ssb-vae index build MODEL CORPUS.csv`, which reads them with the "
                         "model's own pipeline")


def check_out(path: Path, force: bool = False) -> None:
    """Refuses, before any work, an output the codes cannot be written to as asked."""
    if path.suffix not in SUFFIXES:
        raise ValueError(f"--out {path}: the codes are written as .npy or .txt (0/1 lines), so give a "
                         "file name ending in one of them")
    if path.is_dir():
        raise ValueError(f"--out {path} is a folder; give a file name")
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force to replace it")


def write_codes(codes: np.ndarray, path: Path, force: bool = False) -> Path:
    check_out(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path, suffix=path.suffix) as temporary:
        if path.suffix == ".txt":
            temporary.write_text("".join("".join(map(str, row)) + "\n" for row in codes))
        else:
            with open(temporary, "wb") as handle:
                np.save(handle, codes)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ssb-vae hash", description=__doc__.split("\n")[0])
    parser.add_argument("model", help="a .keras file saved by ssb_vae (e.g. run_experiments.py --save-models)")
    parser.add_argument("--dataset", required=True, help="dataset name or .mat/.csv/.tsv path")
    parser.add_argument("--data-dir", default="data", help="folder holding the dataset files")
    parser.add_argument("--part", choices=["database", "queries"], default="database",
                        help="which items to hash: training ∪ validation, or the test queries")
    parser.add_argument("--out", required=True, help="output file: .npy, or .txt for 0/1 lines")
    parser.add_argument("--force", action="store_true", help="replace an existing output file")
    args = parser.parse_args(argv)

    import ssb_vae
    from ssb_vae.data import load_dataset

    try:
        check_out(Path(args.out), args.force)
        model = ssb_vae.load_model(args.model)
        data = load_dataset(args.dataset, data_dir=args.data_dir)
        check_vocabulary(args.model, data)
        items = getattr(data, args.part)
        codes = ssb_vae.hash_codes(model, items.x)
        path = write_codes(codes, Path(args.out), force=args.force)
    except (ValueError, OSError, TypeError) as error:
        parser.error(str(error))
    print(f"wrote {codes.shape[0]} codes of {codes.shape[1]} bits to {path}")


if __name__ == "__main__":
    from ssb_vae.cli import run_command

    sys.exit(run_command(main, prog="ssb-vae hash"))
