"""SSB-VAE on multi-label data with few labels: no collapse under the default similarity.

A small multi-label .mat made from 20 Newsgroups relabelled with group + hierarchy root (3,300
database items), 10% labels, the α/β/γ of the reference experiments' multi-label dataset (TMC).
With the reference similarity S = Ŷ Ŷᵀ (unweighted pairs) the database collapses onto one or two
codes (results/multilabel/README.md); the default for multi-label data must not.
"""

import keras
import numpy as np
import pytest
import scipy.io

import ssb_vae
from conftest import shared_file
from ssb_vae.data import load_dataset

TMC_SSB_VAE = {"alpha": 0.001, "beta": 0.000244, "gamma": 10000}


@pytest.fixture(scope="module")
def small_multilabel(tmp_path_factory):
    source = shared_file("20news-bydate.tar.gz").parent
    folder = tmp_path_factory.mktemp("multilabel")
    full = load_dataset("20news-multilabel", data_dir=source, cache_dir=folder / "cache", download=False)
    path = folder / "ng20ml_small.mat"
    scipy.io.savemat(path, {"train": full.train.x[:3000], "cv": full.validation.x[:300], "test": full.test.x[:500],
                            "gnd_train": full.train.labels[:3000], "gnd_cv": full.validation.labels[:300],
                            "gnd_test": full.test.labels[:500]})
    data = load_dataset(str(path), cache=False)
    assert data.multilabel and len(data.classes) == 27
    return data


def distinct_fraction(data, similarity, epochs=15, **options):
    supervised = data.with_supervision(0.1, seed=20)
    db = supervised.database
    keras.utils.set_random_seed(20)
    model = ssb_vae.build_model("ssb-vae", input_dim=data.n_features, n_bits=16, n_classes=len(data.classes),
                                multilabel=True, similarity=similarity, seed=20, **TMC_SSB_VAE, **options)
    ssb_vae.train(model, db.x, target=db.target, labels=db.labels, labelled=supervised.labelled,
                  epochs=epochs, verbose=0)
    codes = ssb_vae.hash_codes(model, db.x)
    return len(np.unique(codes, axis=0)) / len(codes)


def test_the_multilabel_default_does_not_collapse_with_few_labels(small_multilabel):
    # the protocol's 30 epochs: the confidence-weighted default spreads its codes later than the
    # soft Jaccard alone (4.8% distinct codes after 15 epochs, 40% after 30; results/multilabel §7)
    assert distinct_fraction(small_multilabel, similarity=None, epochs=30) >= 0.05


def test_the_soft_jaccard_alone_does_not_collapse_either(small_multilabel):
    assert distinct_fraction(small_multilabel, similarity="jaccard", confidence_weighted=False) >= 0.05


def test_confidence_weighting_is_the_multilabel_ssb_vae_default_only():
    def spec(method, multilabel, **options):
        return ssb_vae.build_model(method, input_dim=10, n_classes=4, n_bits=8, multilabel=multilabel, **options).spec

    assert spec("ssb-vae", True).confidence_weighted and spec("ssb-vae", True).similarity == "jaccard"
    assert not spec("ssb-vae", True, confidence_weighted=False).confidence_weighted
    assert not spec("ssb-vae", False).confidence_weighted and spec("ssb-vae", False).similarity == "dot"
    assert not spec("phs-gs", True).confidence_weighted
    config = ssb_vae.build_model("ssb-vae", input_dim=10, n_classes=4, n_bits=8, multilabel=True).get_config()
    del config["confidence_weighted"]  # as saved before the option existed: trained without it
    assert not ssb_vae.models.HashingAutoencoder.from_config(config).spec.confidence_weighted


def test_the_reference_similarity_collapses_there(small_multilabel):
    assert distinct_fraction(small_multilabel, similarity="dot", confidence_weighted=False) < 0.01


def test_train_sets_the_prior_marginals_from_the_labelled_items(rng):
    x = rng.random((120, 10)).astype(np.float32)
    labels = (rng.random((120, 4)) < 0.3).astype(np.float32)
    labelled = rng.random(120) < 0.4
    model = ssb_vae.build_model("ssb-vae", input_dim=10, n_classes=4, n_bits=8, multilabel=True, seed=1,
                                label_prior=True)
    history = ssb_vae.train(model, x, labels=labels, labelled=labelled, epochs=1, verbose=0)
    np.testing.assert_allclose(model.get_layer("label_prior_loss").marginals.numpy(),
                               labels[labelled].mean(axis=0), rtol=1e-6)
    assert "prior" in history.history


def test_label_prior_is_refused_where_it_has_no_meaning():
    with pytest.raises(ValueError, match="label_prior applies to multi-label"):
        ssb_vae.build_model("ssb-vae", input_dim=10, n_classes=4, n_bits=8, label_prior=True)
    assert not ssb_vae.build_model("ssb-vae", input_dim=10, n_classes=4, n_bits=8).spec.label_prior


def test_detached_similarity_keeps_the_loss_and_stops_pair_gradients_into_the_label_head(rng, tmp_path):
    """detach_similarity: the same losses, but PAIR no longer trains the label head."""
    import tensorflow as tf

    x = rng.random((40, 12)).astype(np.float32)
    labels = (rng.random((40, 5)) < 0.3).astype(np.float32)
    labelled = (rng.random(40) < 0.5).astype(np.float32)
    inputs = {"x": x, "target": x / x.sum(axis=1, keepdims=True), "labels": labels, "labelled": labelled}
    gradients, totals = {}, {}
    for detach in (False, True):
        model = ssb_vae.build_model("ssb-vae", input_dim=12, n_classes=5, n_bits=8, multilabel=True, seed=4,
                                    hidden_units=10, alpha=1.0, gamma=0.0, detach_similarity=detach)
        keras.utils.set_random_seed(4)
        with tf.GradientTape() as tape:
            model(inputs, training=True)
            total = tf.add_n(model.losses)
        head = model.get_layer("label_head").kernel
        gradients[detach], totals[detach] = tape.gradient(total, head), float(total)
    assert totals[True] == pytest.approx(totals[False], rel=1e-6)
    # γ = 0: the label loss is off, so the head's only gradient is PAIR's, through S
    assert float(tf.reduce_max(tf.abs(gradients[False]))) > 0
    assert gradients[True] is None or float(tf.reduce_max(tf.abs(gradients[True]))) == 0
    path = tmp_path / "detached.keras"
    model.save(path)
    assert ssb_vae.load_model(path).spec.detach_similarity


def test_detached_similarity_is_refused_where_s_holds_no_prediction():
    with pytest.raises(ValueError, match="detach_similarity applies to ssb-vae only"):
        ssb_vae.build_model("phs-gs", input_dim=10, n_classes=4, n_bits=8, detach_similarity=True)


def test_confidence_weighted_model_trains_reloads_and_is_refused_for_single_label(rng, tmp_path):
    x = rng.random((60, 10)).astype(np.float32)
    labels = (rng.random((60, 4)) < 0.4).astype(np.float32)
    model = ssb_vae.build_model("ssb-vae", input_dim=10, n_classes=4, n_bits=8, multilabel=True, seed=2,
                                confidence_weighted=True)
    history = ssb_vae.train(model, x, labels=labels, labelled=rng.random(60) < 0.3, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    path = tmp_path / "weighted.keras"
    model.save(path)
    reloaded = ssb_vae.load_model(path)
    assert reloaded.spec.confidence_weighted and reloaded.get_layer("pairwise_loss").confidence_weighted
    np.testing.assert_array_equal(ssb_vae.hash_codes(reloaded, x), ssb_vae.hash_codes(model, x))
    for method, multilabel in (("ssb-vae", False), ("phs-gs", True)):
        with pytest.raises(ValueError, match="confidence_weighted applies to multi-label ssb-vae"):
            ssb_vae.build_model(method, input_dim=10, n_classes=4, n_bits=8, multilabel=multilabel,
                                confidence_weighted=True)


def test_train_sets_the_calibration_cardinality_from_the_labelled_items(rng, tmp_path):
    x = rng.random((120, 10)).astype(np.float32)
    labels = (rng.random((120, 4)) < 0.4).astype(np.float32)
    labelled = rng.random(120) < 0.3
    model = ssb_vae.build_model("ssb-vae", input_dim=10, n_classes=4, n_bits=8, multilabel=True, seed=1,
                                calibrate_predictions=True)
    ssb_vae.train(model, x, labels=labels, labelled=labelled, epochs=1, verbose=0)
    expected = labels[labelled].sum(axis=1).mean()
    assert float(model.get_layer("pairwise_loss").cardinality.numpy()) == pytest.approx(expected, rel=1e-6)
    path = tmp_path / "calibrated.keras"
    model.save(path)
    reloaded = ssb_vae.load_model(path)
    assert float(reloaded.get_layer("pairwise_loss").cardinality.numpy()) == pytest.approx(expected, rel=1e-6)
    np.testing.assert_array_equal(ssb_vae.hash_codes(reloaded, x), ssb_vae.hash_codes(model, x))
    with pytest.raises(ValueError, match="calibrate_predictions applies to multi-label ssb-vae"):
        ssb_vae.build_model("ssb-vae", input_dim=10, n_classes=4, n_bits=8, calibrate_predictions=True)
