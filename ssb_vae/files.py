"""Writing files so that an interrupted write never leaves a broken or half-written file."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path, suffix: str = ""):
    """Yields a temporary path beside ``path``; it replaces ``path`` only if the block finishes.

    ``suffix`` is the temporary file's ending (Keras, for one, insists on ``.keras``).
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=".writing-", suffix=suffix, dir=path.parent.resolve())
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; a written file gets the usual mode
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
