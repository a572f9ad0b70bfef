"""Keras layers of the hashing autoencoders: latent sampling, and one loss layer per docs/method.md §3 term.

The loss layers follow the endpoint-layer pattern: they take predictions (and labels), add their
weighted term with ``add_loss`` and log the unweighted term per epoch through a ``Mean`` metric,
then pass their main input through so the functional graph keeps them.
"""

from __future__ import annotations

from ssb_vae.backend import keras

ops = keras.ops

from ssb_vae import losses
from ssb_vae.csr import row_ids

LOGISTIC_NOISE_CLIP = 1e-7  # keeps u inside (0, 1) so log u − log(1 − u) stays finite


def _serializable(cls):
    return keras.saving.register_keras_serializable(package="ssb_vae")(cls)


@_serializable
class GaussianSampling(keras.layers.Layer):
    """z = z_mean + exp(z_log_var / 2) · ε, ε ~ N(0, I)  (docs/method.md §2)."""

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        noise = keras.random.normal(ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * noise

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@_serializable
class BernoulliSampling(keras.layers.Layer):
    """Relaxed Bernoulli (binary Concrete / Gumbel-sigmoid) sample  (docs/method.md §2).

    b = sigmoid((logits + log u − log(1 − u)) / τ), u ~ Uniform(0, 1).
    """

    def __init__(self, temperature: float = 0.67, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, logits):
        u = keras.random.uniform(
            ops.shape(logits),
            minval=LOGISTIC_NOISE_CLIP,
            maxval=1.0 - LOGISTIC_NOISE_CLIP,
            dtype=logits.dtype,
            seed=self.seed_generator,
        )
        logistic_noise = ops.log(u) - ops.log(1.0 - u)
        return ops.sigmoid((logits + logistic_noise) / self.temperature)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature, "seed": self.seed}


@_serializable
class SparseDense(keras.layers.Layer):
    """``Dense(units)`` on a CSR batch ``[lengths, columns, values]`` (``ssb_vae.csr``).

    Row i of the output is activation(Σ_p v_p · W[c_p] + b) over the row's stored entries: a
    gather of the touched rows of W and a segment sum, which XLA compiles. Same weights
    (``kernel`` input_dim × units, ``bias``), initializer and outputs as ``Dense`` on the
    densified batch, without the dense batch.
    """

    def __init__(self, units: int, input_dim: int, activation=None,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.input_dim = int(input_dim)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        self.kernel = self.add_weight(name="kernel", shape=(self.input_dim, self.units),
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        lengths, columns, values = inputs
        product = _csr_product(lengths, columns, values, self.input_dim)
        return self.activation(product(self.kernel.value) + self.bias)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "input_dim": self.input_dim,
            "activation": keras.activations.serialize(self.activation),
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


def _csr_product(lengths, columns, values, n_columns: int):
    """kernel ↦ X · kernel for the CSR batch X, with its gradient Xᵀ · upstream.

    Forward: a gather of the touched kernel rows and a segment sum. Backward: X densified (n × D
    scalars) times the upstream gradient, one matrix product, which measured faster on the CPU
    than the scatter of gathered rows that automatic differentiation writes (bench/train_speed.py).
    """
    n_rows = ops.shape(lengths)[0]
    rows = row_ids(lengths, ops.shape(columns)[0])

    @ops.custom_gradient
    def product(kernel):
        weighted = ops.take(kernel, columns, axis=0) * ops.expand_dims(values, -1)

        def gradient(*upstream, variables=None):
            dense = ops.scatter(ops.stack([rows, columns], axis=1), values, (n_rows, n_columns))
            return ops.matmul(ops.transpose(dense), upstream[0])

        return ops.segment_sum(weighted, rows, num_segments=n_rows), gradient

    return product


class _LossTerm(keras.layers.Layer):
    """Base of the loss layers: adds ``weight · value`` and logs ``value`` under ``term``."""

    term: str = ""

    def __init__(self, weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.weight = float(weight)
        self.tracker = keras.metrics.Mean(name=self.term)

    def _add_term(self, value):
        self.add_loss(self.weight * value)
        self.tracker.update_state(value)

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}


@_serializable
class ReconstructionLoss(_LossTerm):
    """Adds mean REC over the batch; returns the reconstruction.

    Inputs ``[target, reconstruction]`` with a dense target, or ``[lengths, columns, values,
    reconstruction]`` with the target as a CSR batch (``ssb_vae.csr``).
    """

    term = "rec"

    def call(self, inputs):
        *target, reconstruction = inputs
        if len(target) == 1:
            per_item = losses.reconstruction(target[0], reconstruction)
        else:
            per_item = losses.sparse_reconstruction(*target, reconstruction)
        self._add_term(ops.mean(per_item))
        return reconstruction


@_serializable
class GaussianKLLoss(_LossTerm):
    """Adds β · mean KLg; inputs ``[z_mean, z_log_var]``, returns ``z_mean``."""

    term = "kl"

    def call(self, inputs):
        z_mean, z_log_var = inputs
        self._add_term(ops.mean(losses.gaussian_kl(z_mean, z_log_var)))
        return z_mean


@_serializable
class BernoulliKLLoss(_LossTerm):
    """Adds β · mean KLb; input the code logits, returned unchanged."""

    term = "kl"

    def call(self, logits):
        self._add_term(ops.mean(losses.bernoulli_kl(logits)))
        return logits


@_serializable
class LabelLoss(_LossTerm):
    """Adds weight · Σ_i CE_i / n (divided by the batch size, docs/method.md §3); returns the label probabilities.

    Inputs ``[labels, label_logits, labelled]``; unlabelled items (labelled = 0) contribute nothing.
    """

    term = "label"

    def __init__(self, weight: float = 1.0, multilabel: bool = False, **kwargs):
        super().__init__(weight=weight, **kwargs)
        self.multilabel = bool(multilabel)

    def call(self, inputs):
        labels, label_logits, labelled = inputs
        per_item = losses.label_cross_entropy(labels, label_logits, labelled, self.multilabel)
        self._add_term(ops.mean(per_item))
        return ops.sigmoid(label_logits) if self.multilabel else ops.softmax(label_logits, axis=-1)

    def get_config(self):
        return {**super().get_config(), "multilabel": self.multilabel}


PAIR_MODES = ("all", "labelled")
# S from the label source, by name; an experiment registers a candidate of its own here
SIMILARITIES = {"dot": losses.dot_similarity, "jaccard": losses.jaccard_similarity}


@_serializable
class PairwiseHammingLoss(_LossTerm):
    """Adds weight · PAIR over the batch's relaxed codes, with S from the label source  (docs/method.md §3).

    Inputs ``[codes, label_source, labelled]``. ``label_source`` is the true label matrix (PHS-GS,
    zero rows for unlabelled items) or the predicted label distributions (SSB-VAE, gradients flow
    through it). ``pairs="labelled"`` keeps only pairs of two labelled items. ``similarity`` names
    an entry of ``SIMILARITIES``: ``"dot"`` (S = A Aᵀ, the reference) or ``"jaccard"`` (soft
    Jaccard, the multi-label default). ``confidence_weighted`` weights each pair by c_i·c_j, the
    confidences of the two items' predicted label sets (``losses.prediction_confidence``,
    stop-gradient: the head cannot lower PAIR by doubting). Returns the codes.
    """

    term = "pair"

    def __init__(self, weight: float = 1.0, pairs: str = "all", similarity: str = "dot",
                 confidence_weighted: bool = False, **kwargs):
        super().__init__(weight=weight, **kwargs)
        if pairs not in PAIR_MODES:
            raise ValueError(f"pairs must be one of {PAIR_MODES}, got {pairs!r}")
        if similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {tuple(SIMILARITIES)}, got {similarity!r}")
        self.pairs = pairs
        self.similarity = similarity
        self.confidence_weighted = bool(confidence_weighted)

    def call(self, inputs):
        codes, label_source, labelled = inputs
        pair_weights = None
        if self.confidence_weighted:
            confidence = ops.stop_gradient(losses.prediction_confidence(label_source, labelled))
            pair_weights = ops.expand_dims(confidence, 1) * ops.expand_dims(confidence, 0)
        similarity = SIMILARITIES[self.similarity](label_source)
        if self.pairs == "labelled":
            both_labelled = ops.expand_dims(labelled, 1) * ops.expand_dims(labelled, 0)
            pair_weights = both_labelled if pair_weights is None else pair_weights * both_labelled
        self._add_term(losses.pairwise_hamming_hinge(codes, similarity, pair_weights))
        return codes

    def get_config(self):
        return {**super().get_config(), "pairs": self.pairs, "similarity": self.similarity,
                "confidence_weighted": self.confidence_weighted}
