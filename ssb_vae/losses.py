"""The loss terms of docs/method.md §3, one pure function each, written with ``keras.ops``.

Every function takes a mini-batch and returns either a per-item vector (reduced by the caller as
docs/method.md §3 says) or, for the pairwise term, the batch scalar. The layers in ``layers.py`` wrap them
with ``add_loss``; the tests compare them with a numpy transcription of docs/method.md §3.
"""

from __future__ import annotations

import math

from ssb_vae.backend import keras

ops = keras.ops

from ssb_vae.csr import row_ids

EPS = 1e-7  # docs/method.md §3: the clip of the reconstruction and the offset inside the Bernoulli KL logs


def reconstruction(target, reconstruction_probs):
    """REC_i = −Σ_d t_id · log(clip(x̂_id, 1e-7, 1))  (docs/method.md §3)."""
    log_probs = ops.log(ops.clip(reconstruction_probs, EPS, 1.0))
    return -ops.sum(target * log_probs, axis=-1)


def sparse_reconstruction(lengths, columns, values, reconstruction_probs):
    """REC_i of docs/method.md §3 for a target given as a CSR batch (``ssb_vae.csr``): the same sum, over
    the stored entries only (the others have t_id = 0 and add exactly 0), so the log is taken
    at those entries only."""
    n_items, n_features = ops.shape(reconstruction_probs)
    rows = row_ids(lengths, ops.shape(columns)[0])
    probs = ops.take(ops.reshape(reconstruction_probs, (-1,)), rows * n_features + columns)
    per_entry = -values * ops.log(ops.clip(probs, EPS, 1.0))
    return ops.segment_sum(per_entry, rows, num_segments=n_items)


def gaussian_kl(z_mean, z_log_var):
    """KLg_i = −½ Σ_j (1 + log σ² − μ² − σ²): KL of N(μ, σ²) to N(0, I)  (docs/method.md §3)."""
    return -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)


def bernoulli_kl(logits):
    """KLb_i = B·log 2 + Σ_j [p log p + (1 − p) log(1 − p)], p = sigmoid(logits)  (docs/method.md §3)."""
    p = ops.sigmoid(logits)
    n_bits = ops.shape(logits)[-1]
    entropy_part = p * ops.log(p + EPS) + (1.0 - p) * ops.log(1.0 - p + EPS)
    return n_bits * math.log(2.0) + ops.sum(entropy_part, axis=-1)


def label_cross_entropy(labels, label_logits, labelled, multilabel: bool):
    """CE_i of docs/method.md §3, zero for unlabelled items (``labelled`` is the 0/1 mask m_i).

    Computed from the label head's logits (log-softmax / log-sigmoid), which equals docs/method.md §3's
    −Σ y log ŷ on the softmax/sigmoid output without the overflow of taking log of a rounded 0.
    """
    if multilabel:
        log_p = ops.log_sigmoid(label_logits)
        log_not_p = ops.log_sigmoid(-label_logits)
        per_item = -ops.sum(labels * log_p + (1.0 - labels) * log_not_p, axis=-1)
    else:
        per_item = -ops.sum(labels * ops.log_softmax(label_logits, axis=-1), axis=-1)
    return labelled * per_item


def prediction_confidence(label_probs, labelled):
    """c_i = 1 for labelled items; Π_c max(ŷ_ic, 1 − ŷ_ic) for unlabelled ones: the probability the
    head's own independent sigmoids give to its most likely label set (multi-label).

    The pair weights of multi-label SSB-VAE's PAIR are c_i·c_j (its default), so an item whose
    label set the head is unsure of pulls and pushes the codes less. Computed as the exponential
    of a sum of logs, which does not underflow where a product over many classes would.
    """
    certain = ops.maximum(label_probs, 1.0 - label_probs)
    confidence = ops.exp(ops.sum(ops.log(certain + EPS), axis=-1))
    return labelled + (1.0 - labelled) * ops.minimum(confidence, 1.0)


def dot_similarity(label_source):
    """S = A Aᵀ (docs/method.md §3): the reference similarity of PHS-GS and SSB-VAE."""
    return ops.matmul(label_source, ops.transpose(label_source))


def jaccard_similarity(label_source):
    """Soft Jaccard S_ij = a_i·a_j / (Σ_c a_ic + Σ_c a_jc − a_i·a_j), in [0, 1]; 0 when both are zero.

    For multi-label data: an item predicting every class is not similar to every item (as it is
    under A Aᵀ), because the union in the denominator grows with what it predicts.
    """
    shared = ops.matmul(label_source, ops.transpose(label_source))
    sizes = ops.sum(label_source, axis=-1, keepdims=True)
    return ops.divide_no_nan(shared, sizes + ops.transpose(sizes) - shared)


def pairwise_hamming_hinge(codes, similarity, pair_weights=None):
    """PAIR = (1/B) Σ_i Σ_j [S_ij·Dist_ij + (1 − S_ij)·max(0, M − Dist_ij)], M = B/3  (docs/method.md §3).

    ``codes`` are the relaxed samples b (n × B), ``similarity`` is S (n × n). Dist_ij = ‖b_i − b_j‖²
    over all ordered pairs, i = j included; the result is a sum over pairs, not a mean.
    ``pair_weights`` (n × n, optional) restricts the sum, e.g. to labelled pairs.
    """
    n_bits = ops.cast(ops.shape(codes)[-1], codes.dtype)
    squared_norms = ops.sum(ops.square(codes), axis=-1, keepdims=True)
    gram = ops.matmul(codes, ops.transpose(codes))
    distances = ops.maximum(squared_norms + ops.transpose(squared_norms) - 2.0 * gram, 0.0)
    margin = n_bits / 3.0
    terms = similarity * distances + (1.0 - similarity) * ops.relu(margin - distances)
    if pair_weights is not None:
        terms = terms * pair_weights
    return ops.sum(terms) / n_bits
