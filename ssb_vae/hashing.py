"""Hash a dataset with a saved model: ``python -m ssb_vae.hashing MODEL.keras --dataset NAME --out FILE``.

Writes the codes (uint8 0/1, items × bits) of the database or query items as ``.npy``, or as
text (one line of 0/1 per item) when FILE ends in ``.txt``. An existing FILE is not replaced
unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ssb_vae.files import replacing


def write_codes(codes: np.ndarray, path: Path, force: bool = False) -> Path:
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force to replace it")
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
        model = ssb_vae.load_model(args.model)
        items = getattr(load_dataset(args.dataset, data_dir=args.data_dir), args.part)
        codes = ssb_vae.hash_codes(model, items.x)
        path = write_codes(codes, Path(args.out), force=args.force)
    except (ValueError, OSError, TypeError) as error:
        parser.error(str(error))
    print(f"wrote {codes.shape[0]} codes of {codes.shape[1]} bits to {path}")


if __name__ == "__main__":
    main()
