"""ssb_vae: semi-supervised semantic hashing with Bernoulli variational autoencoders.

Importing the package registers its Keras layers and model class, so ``keras.models.load_model``
can read models saved by it.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ssb_vae.models import METHODS, HashingAutoencoder, build_model  # noqa: E402
from ssb_vae.evaluation import evaluate  # noqa: E402
from ssb_vae.training import NonFiniteLossError, hash_codes, train  # noqa: E402

__all__ = [
    "METHODS",
    "HashingAutoencoder",
    "NonFiniteLossError",
    "build_model",
    "evaluate",
    "hash_codes",
    "train",
]
