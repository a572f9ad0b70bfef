"""The model factory: one graph builder per method behind ``build_model`` (docs/method.md §1–§3).

Each method is a Keras functional model with named inputs ``x``, ``target`` and, for the
supervised methods, ``labels`` and ``labelled``. Its outputs are ``reconstruction``,
``code_scores`` (Bernoulli logits or Gaussian means, the quantities docs/method.md §4 hashes), ``sample`` and,
when supervised, ``label_probs``. Every docs/method.md §3 loss term comes from a loss layer of its own.
"""

from __future__ import annotations

import itertools
import os
import zipfile
from dataclasses import asdict, dataclass
from typing import Callable

from ssb_vae.backend import keras

from ssb_vae.csr import csr_names
from ssb_vae.files import replacing
from ssb_vae.layers import (
    PAIR_MODES,
    SIMILARITIES,
    BernoulliKLLoss,
    BernoulliSampling,
    GaussianKLLoss,
    GaussianSampling,
    LabelLoss,
    PairwiseHammingLoss,
    ReconstructionLoss,
    SparseDense,
)

CODE_HEAD = "code_head"  # the Dense layer whose output is thresholded at 0 into hash codes
# options of earlier versions, measured on multi-label data and removed (docs/multilabel.md): a
# saved model's config may hold them, and loads only where they hold their (off) default
REMOVED_OPTIONS = {"label_prior": False, "detach_similarity": False, "calibrate_predictions": False}


@dataclass(frozen=True)
class ModelSpec:
    """Everything a graph builder needs: sizes, loss weights and the seed of the run.

    Its fields are the model's constructor arguments (all but ``method``), and so its config.
    """

    input_dim: int
    n_bits: int
    n_classes: int | None
    alpha: float
    beta: float
    gamma: float
    multilabel: bool
    pairs: str
    similarity: str
    hidden_units: int
    temperature: float
    seed: int | None
    sparse_inputs: bool = False
    confidence_weighted: bool = False

    def seeds(self) -> Callable[[], int | None]:
        """A fresh seed per random component, derived from the run's seed (None stays None)."""
        counter = itertools.count(0 if self.seed is None else self.seed * 1000)
        return lambda: None if self.seed is None else next(counter)


def _dense(units: int, next_seed, name: str, activation=None) -> keras.layers.Dense:
    return keras.layers.Dense(
        units,
        activation=activation,
        kernel_initializer=keras.initializers.GlorotUniform(seed=next_seed()),
        name=name,
    )


MATRIX_INPUTS = ("x", "target")


def _inputs(spec: ModelSpec, supervised: bool) -> dict:
    """The model's named inputs: ``x`` and ``target`` dense, or each as its CSR parts."""
    inputs = {}
    for matrix in MATRIX_INPUTS:
        if spec.sparse_inputs:
            for name, dtype in zip(csr_names(matrix), ("int32", "int32", "float32")):
                inputs[name] = keras.Input(shape=(), dtype=dtype, name=name)
        else:
            inputs[matrix] = keras.Input(shape=(spec.input_dim,), name=matrix)
    if supervised:
        inputs["labels"] = keras.Input(shape=(spec.n_classes,), name="labels")
        inputs["labelled"] = keras.Input(shape=(), name="labelled")
    return inputs


def _matrix(inputs: dict, name: str, spec: ModelSpec):
    """The input matrix ``name``: one dense tensor, or the list of its CSR parts."""
    return [inputs[part] for part in csr_names(name)] if spec.sparse_inputs else inputs[name]


def _encoder_trunk(inputs: dict, spec: ModelSpec, next_seed):
    """Dense(500, relu) → BatchNorm → Dense(500, relu) → BatchNorm  (docs/method.md §2).

    With sparse inputs the first Dense is a ``SparseDense``: the same weights and outputs.
    """
    if spec.sparse_inputs:
        first = SparseDense(spec.hidden_units, spec.input_dim, activation="relu", name="encoder_1",
                            kernel_initializer=keras.initializers.GlorotUniform(seed=next_seed()))
    else:
        first = _dense(spec.hidden_units, next_seed, "encoder_1", activation="relu")
    h = keras.layers.BatchNormalization(name="encoder_bn_1")(first(_matrix(inputs, "x", spec)))
    second = _dense(spec.hidden_units, next_seed, "encoder_2", activation="relu")
    return keras.layers.BatchNormalization(name="encoder_bn_2")(second(h))


def _gaussian_latent(h, spec: ModelSpec, next_seed):
    z_mean = _dense(spec.n_bits, next_seed, CODE_HEAD)(h)
    z_log_var = _dense(spec.n_bits, next_seed, "z_log_var")(h)
    code_scores = GaussianKLLoss(spec.beta, name="kl_loss")([z_mean, z_log_var])
    sample = GaussianSampling(seed=next_seed(), name="sampling")([z_mean, z_log_var])
    return code_scores, sample


def _bernoulli_latent(h, spec: ModelSpec, next_seed):
    logits = _dense(spec.n_bits, next_seed, CODE_HEAD)(h)
    code_scores = BernoulliKLLoss(spec.beta, name="kl_loss")(logits)
    sample = BernoulliSampling(spec.temperature, seed=next_seed(), name="sampling")(logits)
    return code_scores, sample


def _decoder(sample, inputs: dict, spec: ModelSpec, next_seed):
    """A single Dense(D, softmax) from the sample (docs/method.md §2), with its reconstruction loss."""
    probs = _dense(spec.input_dim, next_seed, "decoder", activation="softmax")(sample)
    target = _matrix(inputs, "target", spec)
    return ReconstructionLoss(name="reconstruction_loss")([*target, probs] if spec.sparse_inputs else [target, probs])


def _label_head(features, inputs: dict, weight: float, spec: ModelSpec, next_seed):
    label_logits = _dense(spec.n_classes, next_seed, "label_head")(features)
    return LabelLoss(weight, multilabel=spec.multilabel, name="label_loss")(
        [inputs["labels"], label_logits, inputs["labelled"]]
    )


def _autoencoder(spec: ModelSpec, latent, supervised: bool):
    """The shared graph: inputs → trunk → latent (with its KL) → decoder (with REC)."""
    next_seed = spec.seeds()
    inputs = _inputs(spec, supervised)
    trunk = _encoder_trunk(inputs, spec, next_seed)
    code_scores, sample = latent(trunk, spec, next_seed)
    reconstruction = _decoder(sample, inputs, spec, next_seed)
    outputs = {"reconstruction": reconstruction, "code_scores": code_scores, "sample": sample}
    return inputs, outputs, trunk, next_seed


def _unsupervised(latent):
    """VDSH / B-VAE: mean(REC + β·KL)  (docs/method.md §3)."""

    def build(spec: ModelSpec):
        inputs, outputs, _, _ = _autoencoder(spec, latent, supervised=False)
        return inputs, outputs

    return build


def build_vdsh_s(spec: ModelSpec):
    """VDSH-S: Gaussian VAE with a label head on the sampled z; adds α · Σ CE / n  (docs/method.md §3)."""
    inputs, outputs, _, next_seed = _autoencoder(spec, _gaussian_latent, supervised=True)
    outputs["label_probs"] = _label_head(outputs["sample"], inputs, spec.alpha, spec, next_seed)
    return inputs, outputs


def _pairwise(similarity_from_predictions: bool):
    """PHS-GS / SSB-VAE: adds α · (γ · Σ CE / n + PAIR), label head on the trunk  (docs/method.md §3)."""

    def build(spec: ModelSpec):
        inputs, outputs, trunk, next_seed = _autoencoder(spec, _bernoulli_latent, supervised=True)
        label_probs = _label_head(trunk, inputs, spec.alpha * spec.gamma, spec, next_seed)
        label_source = label_probs if similarity_from_predictions else inputs["labels"]
        outputs["sample"] = PairwiseHammingLoss(spec.alpha, pairs=spec.pairs, similarity=spec.similarity,
                                                confidence_weighted=spec.confidence_weighted,
                                                name="pairwise_loss")(
            [outputs["sample"], label_source, inputs["labelled"]]
        )
        outputs["label_probs"] = label_probs
        return inputs, outputs

    return build


BUILDERS: dict[str, Callable] = {
    "vdsh": _unsupervised(_gaussian_latent),
    "bvae": _unsupervised(_bernoulli_latent),
    "vdsh-s": build_vdsh_s,
    "phs-gs": _pairwise(similarity_from_predictions=False),
    "ssb-vae": _pairwise(similarity_from_predictions=True),
}
METHODS = tuple(BUILDERS)
SUPERVISED = ("vdsh-s", "phs-gs", "ssb-vae")
BERNOULLI = ("bvae", "phs-gs", "ssb-vae")


def check_method(method: str) -> str:
    """Returns the canonical method name or raises a ValueError listing the valid ones."""
    canonical = str(method).lower().replace("_", "-")
    if canonical not in BUILDERS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    return canonical


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


ARGS_DOC = """
    Args:
        method: one of ``METHODS`` (docs/method.md §1).
        input_dim: D, the number of input features.
        n_bits: B, the code length.
        n_classes: C, for the supervised methods (the unsupervised ones ignore it).
        alpha, beta, gamma: the loss weights α, β, γ of docs/method.md §3.
        multilabel: labels are multi-hot (sigmoid label head, binary cross-entropy).
        pairs: ``"all"`` ordered pairs of the batch (the reference), or ``"labelled"`` pairs only.
        similarity: S of PAIR, a name in ``layers.SIMILARITIES``; None: ``"jaccard"`` for
            multi-label data, else ``"dot"`` (S = A Aᵀ, the reference).
        hidden_units: the width of the encoder trunk's two Dense layers (500).
        temperature: τ of the relaxed Bernoulli sample (0.67).
        seed: the seed of every initializer and sampling layer (None: unseeded).
        sparse_inputs: x and target enter as CSR batches (``ssb_vae.csr``) and the first layer is
            a ``SparseDense``: the same losses and codes without densifying a batch.
        confidence_weighted: weight PAIR's pairs by the confidences of the predicted label sets
            (``losses.prediction_confidence``); None: on for multi-label SSB-VAE, its default
            (docs/multilabel.md), off elsewhere; True applies to multi-label SSB-VAE only.
"""


def _check_options(method: str, multilabel: bool, pairs: str, similarity: str,
                   confidence_weighted: bool, weights: dict) -> None:
    if pairs not in PAIR_MODES:
        raise ValueError(f"pairs must be one of {PAIR_MODES}, got {pairs!r}")
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {tuple(SIMILARITIES)}, got {similarity!r}")
    if confidence_weighted and not (multilabel and method == "ssb-vae"):
        raise ValueError("confidence_weighted applies to multi-label ssb-vae models only")
    for name, value in weights.items():
        if not (float(value) >= 0 and float(value) < float("inf")):
            raise ValueError(f"{name} must be a finite non-negative number, got {value!r}")


@keras.saving.register_keras_serializable(package="ssb_vae")
class HashingAutoencoder(keras.Model):
    """A hashing autoencoder of one of ``METHODS`` as a functional model.

    Its config is the constructor's arguments (``ModelSpec``), so ``keras.models.load_model``
    rebuilds the graph with the same builder and loads the weights into it.
    """

    __doc__ += ARGS_DOC

    def __init__(
        self,
        method: str,
        input_dim: int,
        n_bits: int,
        n_classes: int | None = None,
        *,
        alpha: float = 1.0,
        beta: float = 1.0,
        gamma: float = 1.0,
        multilabel: bool = False,
        pairs: str = "all",
        similarity: str | None = None,
        hidden_units: int = 500,
        temperature: float = 0.67,
        seed: int | None = None,
        sparse_inputs: bool = False,
        confidence_weighted: bool | None = None,
        **kwargs,
    ):
        method = check_method(method)
        _positive_int("input_dim", input_dim)
        _positive_int("n_bits", n_bits)
        _positive_int("hidden_units", hidden_units)
        if method in SUPERVISED:
            _positive_int("n_classes", n_classes)
        else:
            n_classes = None
        similarity = similarity or ("jaccard" if multilabel else "dot")
        if confidence_weighted is None:
            confidence_weighted = bool(multilabel) and method == "ssb-vae"
        _check_options(method, multilabel, pairs, similarity, confidence_weighted,
                       {"alpha": alpha, "beta": beta, "gamma": gamma})
        spec = ModelSpec(
            input_dim=input_dim, n_bits=n_bits, n_classes=n_classes,
            alpha=float(alpha), beta=float(beta), gamma=float(gamma),
            multilabel=bool(multilabel), pairs=pairs, similarity=similarity,
            hidden_units=hidden_units, temperature=float(temperature), seed=seed,
            sparse_inputs=bool(sparse_inputs), confidence_weighted=bool(confidence_weighted),
        )
        inputs, outputs = BUILDERS[method](spec)
        super().__init__(inputs=inputs, outputs=outputs, name=kwargs.pop("name", method), **kwargs)
        self.method = method
        self.spec = spec

    @property
    def supervised(self) -> bool:
        return self.method in SUPERVISED

    # set by ``train(..., optimizer="lazy-adam")``: the fast path's step (``ssb_vae.split_step``)
    split_step = None

    def train_step(self, data):
        """Keras' train step, or the fast path's split step when ``train`` has set one."""
        return super().train_step(data) if self.split_step is None else self.split_step(data)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "method": self.method, **asdict(self.spec)}

    @classmethod
    def from_config(cls, config):
        """Also reads the configs of earlier versions: a removed option at its default is dropped,
        any other value of it refused by name; confidence weighting, absent before it existed,
        is off (as those models were trained)."""
        config = dict(config)
        for name, default in REMOVED_OPTIONS.items():
            value = config.pop(name, default)
            if value != default:
                raise ValueError(
                    f"this model was saved with {name}={value!r}, an option measured and removed in "
                    "ssb_vae 0.2 (docs/multilabel.md); load it with ssb_vae 0.1 (commit e87ab31)"
                )
        return cls(**{"confidence_weighted": False, **config})

    def save(self, filepath, overwrite: bool = True, **kwargs):
        """Keras' ``.keras`` save, made atomic: written to a temporary file beside it, then renamed.

        An interrupted save never leaves a broken file at ``filepath``; an existing file is only
        replaced when ``overwrite`` is true.
        """
        path = os.fspath(filepath)
        if not path.endswith(".keras"):
            raise ValueError(f"save to a path ending in .keras (the Keras 3 format), got {path!r}")
        if os.path.exists(path) and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"cannot save {path}: the folder {folder} does not exist; create it first")
        with replacing(path, suffix=".keras") as temporary:
            super().save(temporary, overwrite=True, **kwargs)

    def encoder(self) -> keras.Model:
        """The deterministic encoder x → code scores (logits or z_mean), sharing this model's weights.

        Its input is ``x``, or with sparse inputs the dict of x's CSR parts.
        """
        if self.spec.sparse_inputs:
            x = {name: self.get_layer(name).output for name in csr_names("x")}
        else:
            x = self.get_layer("x").output
        return keras.Model(x, self.get_layer(CODE_HEAD).output)


def build_model(
    method: str,
    input_dim: int,
    n_bits: int,
    n_classes: int | None = None,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    gamma: float = 1.0,
    multilabel: bool = False,
    pairs: str = "all",
    similarity: str | None = None,
    hidden_units: int = 500,
    temperature: float = 0.67,
    seed: int | None = None,
    sparse_inputs: bool = False,
    confidence_weighted: bool | None = None,
) -> HashingAutoencoder:
    """Builds the functional model of ``method``, ready to ``train``."""
    return HashingAutoencoder(
        method, input_dim, n_bits, n_classes, alpha=alpha, beta=beta, gamma=gamma, multilabel=multilabel,
        pairs=pairs, similarity=similarity, hidden_units=hidden_units, temperature=temperature, seed=seed,
        sparse_inputs=sparse_inputs, confidence_weighted=confidence_weighted,
    )


build_model.__doc__ += ARGS_DOC


def load_model(path) -> HashingAutoencoder:
    """Loads a model saved by this package (``.keras``); its layers are registered by this module.

    A missing file raises FileNotFoundError, a damaged one ValueError, both naming the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is damaged: it is not a complete .keras archive (truncated or "
                         "overwritten?); save or copy the model again")
    try:
        return keras.models.load_model(path)
    except (zipfile.BadZipFile, OSError, KeyError, EOFError) as error:
        raise ValueError(f"{path} is damaged and cannot be loaded ({type(error).__name__}: {error})") from None
