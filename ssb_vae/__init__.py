"""ssb_vae: semi-supervised semantic hashing with Bernoulli variational autoencoders.

The names below are imported on first use, so ``ssb_vae.evaluation``, ``ssb_vae.report`` and
``ssb_vae.data`` work without loading TensorFlow. Touching a model name (``build_model``,
``train``, ``load_model``, …) imports ``ssb_vae.models``, which registers the package's Keras
layers and model class; ``ssb_vae.load_model(path)`` reads a saved model (with plain
``keras.models.load_model``, ``import ssb_vae.models`` first).
"""

from __future__ import annotations

import importlib
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_EXPORTS = {
    "METHODS": "ssb_vae.models",
    "HashingAutoencoder": "ssb_vae.models",
    "build_model": "ssb_vae.models",
    "load_model": "ssb_vae.models",
    "evaluate": "ssb_vae.evaluation",
    "NonFiniteLossError": "ssb_vae.training",
    "hash_codes": "ssb_vae.training",
    "train": "ssb_vae.training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ssb_vae' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
