"""Finding and reading source files: where a dataset lives and clear errors when it is not there."""

from __future__ import annotations

import tarfile
import zlib
from pathlib import Path


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's source file is in none of the places looked in."""


def find_source(data_dir, names: list[str], dataset: str, how_to_get: str) -> Path:
    """The first of ``names`` found in ``data_dir``, or an error naming what was looked for."""
    directory = Path(data_dir)
    for name in names:
        candidate = directory / name
        if candidate.exists():
            return candidate
    raise DatasetNotFoundError(
        f"dataset {dataset!r}: none of {', '.join(names)} found in {directory.resolve()}. "
        f"{how_to_get} Then pass its folder as data_dir (or --data-dir)."
    )


def read_tar_members(path: Path, wanted) -> dict[str, bytes]:
    """The contents of the regular members of a .tar.gz whose name satisfies ``wanted``.

    A corrupt or truncated archive raises ValueError naming the file.
    """
    contents = {}
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                if member.isfile() and wanted(member.name):
                    contents[member.name] = archive.extractfile(member).read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise ValueError(
            f"{path} is corrupt or truncated ({type(error).__name__}: {error}); "
            "download it again"
        ) from None
    return contents
