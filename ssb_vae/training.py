"""Training a hashing autoencoder (docs/method.md §2–§3) and turning it into hash codes (§4)."""

from __future__ import annotations

import math
import weakref

from ssb_vae.backend import keras
import numpy as np
import scipy.sparse as sp

from ssb_vae.batches import csr_batch, make_batches
from ssb_vae.csr import csr_names
from ssb_vae.matrices import check_matrix, normalize_rows
from ssb_vae.models import MATRIX_INPUTS, HashingAutoencoder
from ssb_vae.optimizers import make_optimizer
from ssb_vae.split_step import SplitTrainStep

LOSS_TERMS = ("rec", "kl", "label", "pair", "loss")
_ENCODERS: "weakref.WeakKeyDictionary[HashingAutoencoder, keras.Model]" = weakref.WeakKeyDictionary()


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss term."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises ``NonFiniteLossError`` naming the epoch and the first loss term that is not finite."""

    def on_epoch_end(self, epoch, logs=None):
        for term in LOSS_TERMS:
            value = (logs or {}).get(term)
            if value is not None and not math.isfinite(float(value)):
                raise NonFiniteLossError(
                    f"loss term {term!r} became {float(value)} in epoch {epoch + 1}; training "
                    "stopped. Lower alpha/gamma/beta or the learning rate, or check the inputs."
                )


def _check_model(model) -> HashingAutoencoder:
    if not isinstance(model, HashingAutoencoder):
        raise TypeError(
            f"expected a model made by ssb_vae.build_model (or read by ssb_vae.load_model), "
            f"got {type(model).__name__}"
        )
    return model


def label_matrix(labels, n_items: int, n_classes: int) -> np.ndarray:
    """Labels as a float32 (n_items × n_classes) 0/1 matrix from class indices or a 0/1 matrix."""
    labels = np.asarray(labels)
    if labels.shape[0] != n_items:
        raise ValueError(f"labels has {labels.shape[0]} rows but x has {n_items}")
    if labels.ndim == 1:
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError("1-D labels must be integer class indices 0 … n_classes − 1")
        if labels.min() < 0 or labels.max() >= n_classes:
            raise ValueError(
                f"class indices must lie in 0 … {n_classes - 1}, got {labels.min()} … {labels.max()}"
            )
        return np.eye(n_classes, dtype=np.float32)[labels]
    if labels.ndim != 2 or labels.shape[1] != n_classes:
        raise ValueError(
            f"labels must be class indices or an (items × {n_classes}) 0/1 matrix, "
            f"got shape {labels.shape}"
        )
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("a label matrix must hold only 0 and 1")
    return labels.astype(np.float32)


def labelled_mask(labelled, n_items: int) -> np.ndarray:
    """The boolean labelled mask as float32 0/1, or a ValueError if it is not bool of length n."""
    if labelled is None:
        return np.ones(n_items, dtype=np.float32)
    labelled = np.asarray(labelled)
    if labelled.dtype != np.bool_ or labelled.shape != (n_items,):
        raise ValueError(
            f"labelled must be a boolean array of length {n_items}, "
            f"got dtype {labelled.dtype} and shape {labelled.shape}"
        )
    return labelled.astype(np.float32)


def _sparse_inputs(model: HashingAutoencoder) -> tuple[str, ...]:
    """The matrix inputs that ``model`` takes as CSR batches (none for a dense model)."""
    return MATRIX_INPUTS if model.spec.sparse_inputs else ()


def training_features(model: HashingAutoencoder, x, target=None, labels=None, labelled=None) -> dict:
    """Checks the training data against ``model`` and returns the model's input dict.

    ``target`` defaults to x normalized to sum 1 per row; unlabelled items get the zero label
    vector (docs/method.md §3), so they add nothing to the label loss.
    """
    x = check_matrix("x", x, n_columns=model.spec.input_dim)
    n_items = x.shape[0]
    if (x.nnz if sp.issparse(x) else np.count_nonzero(x)) == 0:
        raise ValueError(f"x is all zeros ({n_items} items): every item would get the same code. Check "
                         "the inputs (texts that share no term with the vocabulary vectorize to zeros)")
    target = normalize_rows(x) if target is None else check_matrix(
        "target", target, n_columns=model.spec.input_dim, n_rows=n_items
    )
    features = {"x": x, "target": target}
    if model.supervised:
        if labels is None:
            raise ValueError(f"method {model.method!r} is supervised: pass labels (and labelled)")
        mask = labelled_mask(labelled, n_items)
        if not mask.any():
            raise ValueError(
                f"no item is labelled: method {model.method!r} learns from labels and would train as "
                "an autoencoder with meaningless label terms. Label some items, or use an "
                "unsupervised method (vdsh, bvae)"
            )
        features["labels"] = label_matrix(labels, n_items, model.spec.n_classes) * mask[:, None]
        features["labelled"] = mask
    return features


def train(
    model: HashingAutoencoder,
    x,
    target=None,
    labels=None,
    labelled=None,
    epochs: int = 30,
    batch_size: int = 100,
    learning_rate: float = 1e-3,
    seed: int | None = None,
    verbose="auto",
    callbacks: list | None = None,
    jit_compile: bool | None = None,
    steps_per_execution: int = 10,
    optimizer: str = "adam",
) -> keras.callbacks.History:
    """Fits ``model`` with Adam (docs/method.md §2); returns the Keras history (one entry per loss term).

    ``x`` and ``target`` may be scipy sparse or dense, whatever the model: a dense model gets each
    batch densified on the fly, a model built with ``sparse_inputs=True`` gets CSR batches. ``labels`` are
    class indices or a 0/1 matrix; ``labelled`` is a boolean mask (default: all labelled).
    The batch order is shuffled from ``seed`` (default: the model's seed). The model is compiled
    on the first call; later calls continue with the same optimizer state.

    ``optimizer``: ``"adam"`` (exact Adam, the default) or ``"lazy-adam"`` (the first layer's rows
    that a batch does not touch keep their weights and moments; ``ssb_vae.optimizers``), which needs
    a model built with ``sparse_inputs=True`` and trains with the split step of
    ``ssb_vae.split_step`` (XLA for all but the first layer). ``jit_compile``: None = XLA for Adam.
    """
    _check_model(model)
    lazy = optimizer == "lazy-adam"
    if lazy and not model.spec.sparse_inputs:
        raise ValueError('optimizer="lazy-adam" updates the first-layer rows that a batch touches, so it needs a '
                         "model built with sparse_inputs=True (a dense first layer touches every row)")
    if lazy and jit_compile:
        raise ValueError('optimizer="lazy-adam" trains with a step of its own (ssb_vae.split_step: XLA '
                         "compiles all but the first layer, whose touched rows vary in number); "
                         "leave jit_compile unset or False")
    jit_compile = not lazy if jit_compile is None else jit_compile
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    features = training_features(model, x, target, labels, labelled)
    if not model.compiled:
        # never more steps per execution than an epoch has: Keras' progress bar would count past
        # the epoch's end ("10/3") and show a negative ETA
        steps = math.ceil(features["x"].shape[0] / batch_size)
        model.compile(
            optimizer=make_optimizer(optimizer, learning_rate),
            jit_compile=jit_compile,
            steps_per_execution=max(1, min(steps_per_execution, steps)),
        )
        if lazy:
            model.split_step = SplitTrainStep(model)
    seed = model.spec.seed if seed is None else seed
    batches = make_batches(features, batch_size, shuffle=True, seed=seed, sparse=_sparse_inputs(model))
    return model.fit(
        batches,
        epochs=epochs,
        verbose=verbose,
        shuffle=False,  # the batches are already shuffled, from the seed
        callbacks=[StopOnNonFiniteLoss(), *(callbacks or [])],
    )


def hash_codes(model: HashingAutoencoder, x, batch_size: int = 1000) -> np.ndarray:
    """Binary codes (uint8 0/1, items × bits) from the deterministic encoder (docs/method.md §4).

    Bit j is 1 iff the code score (Bernoulli logit, or Gaussian mean) is positive. ``x`` may be
    dense or CSR whatever the model; the model's own input path computes the scores, so a model
    gives the same codes for both. The rows go through the encoder ``batch_size`` at a time, each
    batch cut from ``x`` as it is needed, so that besides ``x`` and the codes only one batch is
    ever held, whatever the number of rows.
    """
    _check_model(model)
    x = check_matrix("x", x, n_columns=model.spec.input_dim)
    if model not in _ENCODERS:  # one encoder per model, so its predict function is traced once
        _ENCODERS[model] = model.encoder()
    encoder = _ENCODERS[model]
    codes = np.empty((x.shape[0], model.spec.n_bits), dtype=np.uint8)
    for start in range(0, x.shape[0], batch_size):
        stop = min(start + batch_size, x.shape[0])
        codes[start:stop] = encoder.predict_on_batch(_encoder_batch(model, x, start, stop)) > 0
    return codes


def _encoder_batch(model: HashingAutoencoder, x, start: int, stop: int):
    """Rows start … stop − 1 of ``x`` as the encoder takes them: CSR parts or a dense block."""
    if not model.spec.sparse_inputs:
        return x[start:stop].toarray() if sp.issparse(x) else x[start:stop]
    if sp.issparse(x):
        return dict(zip(csr_names("x"), csr_batch(x, start, stop)))
    return dict(zip(csr_names("x"), csr_batch(sp.csr_matrix(x[start:stop]), 0, stop - start)))
