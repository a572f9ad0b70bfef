"""TensorFlow and Keras, imported once with their start-up lines hidden.

TensorFlow writes lines about oneDNN and CUDA stubs to the process's standard error while it is
imported, before its logging can be configured, so no setting silences them. They are hidden by
pointing file descriptor 2 at /dev/null for the import alone; an import error still raises
and is shown. ``TF_CPP_MIN_LOG_LEVEL`` (set by ``ssb_vae`` unless you set it) silences the rest,
and TensorFlow's Python warnings (retracing notices: every new model traces its functions anew)
are turned off unless ``SSB_VAE_DEBUG`` is set.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager


@contextmanager
def _stderr_hidden():
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no file descriptor 2 to hide
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


if "tensorflow" in sys.modules:
    import keras
    import tensorflow
else:
    with _stderr_hidden():
        import keras
        import tensorflow

if os.environ.get("SSB_VAE_DEBUG", "") in ("", "0"):
    logging.getLogger("tensorflow").setLevel(logging.ERROR)

__all__ = ["keras", "tensorflow"]
