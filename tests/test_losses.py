"""Each docs/method.md §3 term, as the package computes it, against the numpy reference."""

import numpy as np
import pytest
import scipy.sparse as sp
from keras import ops

import reference
import ssb_vae
from ssb_vae import layers, losses


def as_numpy(tensor):
    return np.asarray(ops.convert_to_numpy(tensor), dtype=np.float64)


@pytest.fixture
def batch(rng):
    n, d, bits, classes = 6, 9, 5, 4
    t = rng.random((n, d))
    t /= t.sum(axis=1, keepdims=True)
    x_hat = reference.softmax(rng.normal(size=(n, d)) * 3)
    x_hat[0, 0] = 1e-12  # below the 1e-7 clip
    return {
        "t": t.astype(np.float32),
        "x_hat": x_hat.astype(np.float32),
        "mean": rng.normal(size=(n, bits)).astype(np.float32),
        "log_var": rng.normal(size=(n, bits)).astype(np.float32),
        "logits": (rng.normal(size=(n, bits)) * 2).astype(np.float32),
        "b": rng.random((n, bits)).astype(np.float32),
        "label_logits": rng.normal(size=(n, classes)).astype(np.float32),
        "y": np.eye(classes, dtype=np.float32)[rng.integers(0, classes, n)],
        "multi_y": (rng.random((n, classes)) < 0.4).astype(np.float32),
        "m": np.array([1, 1, 0, 1, 0, 1], dtype=np.float32),
    }


def test_reconstruction_matches_reference(batch):
    got = as_numpy(losses.reconstruction(batch["t"], batch["x_hat"]))
    np.testing.assert_allclose(got, reference.reconstruction(batch["t"], batch["x_hat"]), rtol=1e-5)


def test_sparse_reconstruction_equals_the_reference_on_the_densified_target(batch, rng):
    """REC from a CSR target (a row with no entry, the clipped entry stored, padding entries after
    the last row) equals the docs/method.md §3 reference on the densified target."""
    t = batch["t"] * (rng.random(batch["t"].shape) < 0.4)
    t[0, 0], t[2] = 0.2, 0.0
    csr = sp.csr_matrix(t)
    padding = 5
    columns = np.concatenate([csr.indices, np.zeros(padding)]).astype(np.int32)
    values = np.concatenate([csr.data, np.zeros(padding)]).astype(np.float32)
    got = as_numpy(losses.sparse_reconstruction(np.diff(csr.indptr).astype(np.int32), columns, values,
                                                batch["x_hat"]))
    np.testing.assert_allclose(got, reference.reconstruction(t, batch["x_hat"]), rtol=1e-5)
    assert got[2] == 0.0


def test_gaussian_kl_matches_reference(batch):
    got = as_numpy(losses.gaussian_kl(batch["mean"], batch["log_var"]))
    np.testing.assert_allclose(got, reference.gaussian_kl(batch["mean"], batch["log_var"]), rtol=1e-5)


def test_bernoulli_kl_matches_reference(batch):
    got = as_numpy(losses.bernoulli_kl(batch["logits"]))
    np.testing.assert_allclose(got, reference.bernoulli_kl(batch["logits"]), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("multilabel", [False, True])
def test_label_cross_entropy_matches_reference_and_ignores_unlabelled(batch, multilabel):
    y = batch["multi_y"] if multilabel else batch["y"]
    y = y * batch["m"][:, None]  # unlabelled items carry y = 0
    logits = batch["label_logits"]
    probs = reference.sigmoid(logits) if multilabel else reference.softmax(logits)
    got = as_numpy(losses.label_cross_entropy(y, logits, batch["m"], multilabel))
    expected = reference.cross_entropy(y, probs, batch["m"], multilabel)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert (got[batch["m"] == 0] == 0).all()


def test_label_loss_layer_divides_by_batch_size_not_labelled_count(batch):
    layer = layers.LabelLoss(weight=3.0)
    y = batch["y"] * batch["m"][:, None]
    layer([y, batch["label_logits"], batch["m"]])
    expected = reference.cross_entropy(y, reference.softmax(batch["label_logits"]), batch["m"], False)
    np.testing.assert_allclose(as_numpy(layer.losses[0]), 3.0 * expected.sum() / len(y), rtol=1e-5)


def test_pairwise_is_a_sum_over_all_ordered_pairs(batch):
    similarity = batch["y"] @ batch["y"].T
    got = float(as_numpy(losses.pairwise_hamming_hinge(batch["b"], similarity)))
    assert got == pytest.approx(reference.pairwise(batch["b"], similarity), rel=1e-5)


def test_pairwise_pushes_unlabelled_pairs_apart_by_default_and_can_skip_them(batch):
    m = batch["m"]
    y = batch["y"] * m[:, None]
    codes = batch["b"]
    default = layers.PairwiseHammingLoss(weight=2.0)
    default([codes, y, m])
    expected_all = reference.pairwise(codes, y @ y.T)
    assert float(as_numpy(default.losses[0])) == pytest.approx(2.0 * expected_all, rel=1e-5)

    labelled_only = layers.PairwiseHammingLoss(weight=2.0, pairs="labelled")
    labelled_only([codes, y, m])
    expected_labelled = reference.pairwise(codes, y @ y.T, weights=np.outer(m, m))
    assert float(as_numpy(labelled_only.losses[0])) == pytest.approx(2.0 * expected_labelled, rel=1e-5)
    assert expected_labelled < expected_all  # unlabelled pairs did contribute hinge terms


def test_jaccard_similarity_matches_reference_and_is_bounded(batch):
    y = batch["multi_y"] * batch["m"][:, None]  # zero rows for unlabelled items: S = 0, not 0/0
    probs = reference.sigmoid(batch["label_logits"])
    for source in (y, probs):
        got = as_numpy(losses.jaccard_similarity(source.astype(np.float32)))
        np.testing.assert_allclose(got, reference.jaccard(source.astype(np.float64)), rtol=1e-5, atol=1e-7)
        assert (got >= 0).all() and (got <= 1 + 1e-6).all()
    # an item predicting every class and an item of one class: A Aᵀ calls them similar (S = 1)
    pair = np.array([[1, 1, 1, 1], [1, 0, 0, 0]], np.float32)
    assert float(as_numpy(losses.dot_similarity(pair))[0, 1]) == 1.0
    assert float(as_numpy(losses.jaccard_similarity(pair))[0, 1]) == pytest.approx(0.25)


def test_confidence_weighted_pairs_weight_each_pair_by_both_items_confidence(batch):
    import tensorflow as tf

    probs = reference.sigmoid(batch["label_logits"]).astype(np.float64)
    m = batch["m"].astype(np.float64)
    confidence = reference.prediction_confidence(probs, m)
    got = as_numpy(losses.prediction_confidence(probs.astype(np.float32), m.astype(np.float32)))
    np.testing.assert_allclose(got, confidence, rtol=1e-4)
    assert (confidence[m == 0] < 1).all() and (confidence[m == 1] == 1).all()
    unsure = as_numpy(losses.prediction_confidence(np.full((1, 20), 0.5, np.float32), np.zeros(1, np.float32)))
    assert unsure[0] == pytest.approx(0.5 ** 20, rel=1e-3)  # every class a coin flip: almost no weight
    for pairs, extra in (("all", 1.0), ("labelled", np.outer(m, m))):
        layer = layers.PairwiseHammingLoss(weight=2.0, pairs=pairs, similarity="jaccard", confidence_weighted=True)
        layer([batch["b"], probs.astype(np.float32), m.astype(np.float32)])
        expected = reference.pairwise(batch["b"], reference.jaccard(probs), np.outer(confidence, confidence) * extra)
        assert float(as_numpy(layer.losses[0])) == pytest.approx(2.0 * expected, rel=1e-4)
    source, mask = tf.constant(probs.astype(np.float32)), m.astype(np.float32)
    constant_weights = tf.constant(np.outer(confidence, confidence).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(source)
        layer = layers.PairwiseHammingLoss(similarity="jaccard", confidence_weighted=True)
        layer([batch["b"], source, mask])
        by_layer = layer.losses[0]
        by_constants = losses.pairwise_hamming_hinge(batch["b"], losses.jaccard_similarity(source), constant_weights)
    # c is a stop-gradient: the head's gradient is the one through S alone, as with constant weights
    np.testing.assert_allclose(tape.gradient(by_layer, source).numpy(), tape.gradient(by_constants, source).numpy(),
                               rtol=1e-3, atol=1e-6)
    assert layer.get_config()["confidence_weighted"] is True


def test_bernoulli_sampling_is_the_gumbel_sigmoid_relaxation():
    logits = np.full((20000, 1), 0.8, dtype=np.float32)
    sample = as_numpy(layers.BernoulliSampling(temperature=0.67, seed=5)(logits))
    assert ((sample >= 0) & (sample <= 1)).all() and 0.2 < sample.std() < 0.5
    # P(b > 1/2) = P(logits + logistic noise > 0) = sigmoid(logits)
    assert (sample > 0.5).mean() == pytest.approx(reference.sigmoid(0.8), abs=0.015)


def model_inputs(rng, n, d, classes, multilabel=False):
    x = rng.random((n, d)).astype(np.float32)
    t = x / x.sum(axis=1, keepdims=True)
    labelled = np.array([1, 0, 1, 1, 0, 1, 1, 0][:n], dtype=np.float32)
    if multilabel:
        y = (rng.random((n, classes)) < 0.5).astype(np.float32)
    else:
        y = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, n)]
    return {"x": x, "target": t, "labels": y * labelled[:, None], "labelled": labelled}


@pytest.mark.parametrize(
    "method, multilabel, similarity",
    [(method, False, None) for method in ssb_vae.METHODS]
    + [(method, True, None) for method in ("vdsh-s", "phs-gs", "ssb-vae")]
    + [(method, True, "dot") for method in ("phs-gs", "ssb-vae")],
)
def test_model_total_loss_is_the_spec_formula(rng, method, multilabel, similarity):
    """The sum of the model's added losses equals the docs/method.md §3 total computed from its outputs
    (with S = A Aᵀ, or the soft Jaccard that multi-label data use by default; multi-label SSB-VAE
    weights its pairs by confidence by default)."""
    alpha, beta, gamma = 0.7, 0.3, 2.5
    n, d, classes = 8, 12, 3
    model = ssb_vae.build_model(method, input_dim=d, n_bits=6, n_classes=classes, alpha=alpha,
                                beta=beta, gamma=gamma, multilabel=multilabel, similarity=similarity,
                                hidden_units=10, seed=3)
    inputs = model_inputs(rng, n, d, classes, multilabel)
    if not model.supervised:
        inputs = {"x": inputs["x"], "target": inputs["target"]}
    outputs = {k: as_numpy(v) for k, v in model(inputs, training=True).items()}
    total = float(sum(as_numpy(loss) for loss in model.losses))

    t, m, y = inputs["target"], inputs.get("labelled"), inputs.get("labels")
    expected = reference.reconstruction(t, outputs["reconstruction"]).mean()
    if method in ("vdsh", "vdsh-s"):
        z_log_var = as_numpy(model.get_layer("z_log_var")(_trunk(model, inputs["x"])))
        expected += beta * reference.gaussian_kl(outputs["code_scores"], z_log_var).mean()
    else:
        expected += beta * reference.bernoulli_kl(outputs["code_scores"]).mean()
    if method == "vdsh-s":
        expected += alpha * reference.cross_entropy(y, outputs["label_probs"], m, multilabel).sum() / n
    if method in ("phs-gs", "ssb-vae"):
        ce = reference.cross_entropy(y, outputs["label_probs"], m, multilabel).sum() / n
        source = y if method == "phs-gs" else outputs["label_probs"]
        s = reference.jaccard(source) if multilabel and similarity is None else source @ source.T
        weights = None
        if multilabel and method == "ssb-vae":  # the multi-label SSB-VAE default: confidence-weighted pairs
            confidence = reference.prediction_confidence(outputs["label_probs"], m)
            weights = np.outer(confidence, confidence)
        expected += alpha * (gamma * ce + reference.pairwise(outputs["sample"], s, weights))
    assert total == pytest.approx(expected, rel=2e-4)


def _trunk(model, x):
    import keras

    trunk = keras.Model(model.get_layer("x").output, model.get_layer("encoder_bn_2").output)
    return trunk(x, training=True)


def test_predicting_every_class_is_not_a_cheap_optimum_of_the_multilabel_pair_term():
    """The mechanism of the SSB-VAE collapse on multi-label data (results/multilabel): with
    S = Ŷ Ŷᵀ an unlabelled item predicting every class is "similar" (S up to C) to everything, the
    hinge weight 1 − S turns negative, and PAIR falls without bound as all codes meet. Under the
    multi-label default that degenerate batch must cost more than a faithful one."""
    groups = np.arange(12) % 3  # three groups; each item carries its group and its group's root
    truth = np.zeros((12, 6), np.float32)
    truth[np.arange(12), groups] = truth[np.arange(12), 3 + groups] = 1
    group_codes = np.zeros((3, 9), np.float32)
    for g in range(3):
        group_codes[g, 3 * g:3 * g + 3] = 1  # 6 bits apart: beyond the margin M = 9/3
    faithful = (group_codes[groups], truth)
    unlabelled = np.arange(12) >= 3  # items 0, 1, 2 are labelled: they keep their truth and code
    degenerate = (np.where(unlabelled[:, None], 0.0, group_codes[groups]).astype(np.float32),
                  np.where(unlabelled[:, None], 0.99, truth).astype(np.float32))
    model = ssb_vae.build_model("ssb-vae", input_dim=4, n_bits=9, n_classes=6, multilabel=True)

    def pair(similarity, batch):
        codes, predictions = batch
        return float(as_numpy(losses.pairwise_hamming_hinge(codes, layers.SIMILARITIES[similarity](predictions))))

    assert pair(model.spec.similarity, degenerate) > pair(model.spec.similarity, faithful)
    assert pair("dot", degenerate) < pair("dot", faithful) < 0  # the reference: degenerate wins
