"""Training, hash codes, saving and loading, and the errors on bad input (issue: the package)."""

from pathlib import Path

import keras
import numpy as np
import pytest
import scipy.sparse as sp

from conftest import expected_float32_overflow
import ssb_vae
from ssb_vae.models import HashingAutoencoder


@pytest.fixture(scope="module")
def small(digits):
    sup = digits.with_supervision(level=0.3, seed=20)
    return sup


@pytest.mark.slow
@pytest.mark.parametrize("method", ssb_vae.METHODS)
def test_fit_lowers_loss_and_reloaded_model_gives_identical_codes(method, small, tmp_path):
    db = small.database
    model = ssb_vae.build_model(method, input_dim=64, n_classes=10, n_bits=16,
                                alpha=1.0, beta=0.01, gamma=1.0, seed=7)
    history = ssb_vae.train(model, db.x, target=db.target, labels=db.labels,
                            labelled=small.labelled, epochs=4, batch_size=100, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    expected_terms = {"rec", "kl"} | ({"label"} if model.supervised else set())
    expected_terms |= {"pair"} if method in ("phs-gs", "ssb-vae") else set()
    assert expected_terms <= set(history.history)

    codes = ssb_vae.hash_codes(model, small.queries.x)
    assert codes.shape == (len(small.queries), 16) and codes.dtype == np.uint8
    assert set(np.unique(codes)) <= {0, 1}
    assert len({row.tobytes() for row in codes}) > 1  # not one constant code

    path = tmp_path / f"{method}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert isinstance(reloaded, HashingAutoencoder) and reloaded.method == method
    np.testing.assert_array_equal(ssb_vae.hash_codes(reloaded, small.queries.x), codes)


def test_codes_come_from_the_deterministic_encoder(small):
    model = ssb_vae.build_model("ssb-vae", input_dim=64, n_classes=10, n_bits=8, seed=1)
    x = small.queries.x
    first, second = ssb_vae.hash_codes(model, x), ssb_vae.hash_codes(model, x)
    np.testing.assert_array_equal(first, second)
    logits = model.encoder().predict(x, verbose=0)
    np.testing.assert_array_equal(first, (logits > 0).astype(np.uint8))


@pytest.mark.slow
def test_same_seed_same_model_and_codes(small):
    db = small.database
    codes = []
    for _ in range(2):
        model = ssb_vae.build_model("phs-gs", input_dim=64, n_classes=10, n_bits=8, seed=11)
        ssb_vae.train(model, db.x, labels=db.labels, labelled=small.labelled, epochs=2, verbose=0)
        codes.append(ssb_vae.hash_codes(model, small.queries.x))
    np.testing.assert_array_equal(codes[0], codes[1])


@pytest.mark.slow
def test_sparse_input_trains_and_hashes_like_dense(rng):
    dense = (rng.random((300, 40)) < 0.1) * rng.random((300, 40))
    labels = rng.integers(0, 3, 300)
    outputs = []
    for x in (dense.astype(np.float32), sp.csr_matrix(dense)):
        model = ssb_vae.build_model("ssb-vae", input_dim=40, n_classes=3, n_bits=8, seed=4)
        history = ssb_vae.train(model, x, labels=labels, epochs=2, batch_size=50, verbose=0)
        outputs.append((history.history["loss"], ssb_vae.hash_codes(model, x)))
    np.testing.assert_allclose(outputs[0][0], outputs[1][0], rtol=1e-5)
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])


@pytest.mark.slow
def test_multilabel_trains_every_supervised_method(rng):
    x = rng.random((200, 30)).astype(np.float32)
    labels = (rng.random((200, 4)) < 0.4).astype(np.uint8)
    for method in ("vdsh-s", "phs-gs", "ssb-vae"):
        model = ssb_vae.build_model(method, input_dim=30, n_classes=4, n_bits=8, multilabel=True, seed=2)
        history = ssb_vae.train(model, x, labels=labels, epochs=2, batch_size=50, verbose=0)
        assert np.isfinite(history.history["label"]).all()


def test_unsupervised_methods_accept_and_ignore_n_classes():
    model = ssb_vae.build_model("bvae", input_dim=10, n_bits=4, n_classes=99)
    assert not model.supervised and model.spec.n_classes is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "ssbvae"}, "valid methods: vdsh, bvae, vdsh-s, phs-gs, ssb-vae"),
        ({"n_bits": 0}, "n_bits must be a positive integer"),
        ({"n_classes": None}, "n_classes must be a positive integer"),
        ({"pairs": "some"}, "pairs must be one of"),
        ({"alpha": float("nan")}, "alpha must be a finite non-negative number"),
    ],
)
def test_bad_model_arguments(kwargs, message):
    arguments = {"method": "ssb-vae", "input_dim": 10, "n_bits": 4, "n_classes": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        ssb_vae.build_model(**arguments)


@pytest.fixture(scope="module")
def tiny_model():
    return ssb_vae.build_model("phs-gs", input_dim=6, n_classes=3, n_bits=4, seed=0)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"labels": np.zeros(9, dtype=int)}, "labels has 9 rows but x has 10"),
        ({"labels": np.zeros((10, 4))}, r"\(items × 3\) 0/1 matrix"),
        ({"labels": np.full(10, 5)}, "class indices must lie in 0 … 2"),
        ({"labelled": np.ones(10)}, "labelled must be a boolean array of length 10"),
        ({"labelled": np.ones(9, dtype=bool)}, "labelled must be a boolean array of length 10"),
        ({"x": np.full((10, 6), np.nan)}, "x contains NaN or infinite values"),
        ({"x": sp.csr_matrix(np.full((10, 6), np.inf))}, "x contains NaN or infinite values"),
        ({"x": np.ones((10, 5))}, "x has 5 columns but the model expects 6"),
        ({"target": np.ones((9, 6))}, "target has 9 rows but x has 10"),
        ({"labels": None}, "is supervised: pass labels"),
    ],
)
def test_bad_training_input(tiny_model, change, message):
    arguments = {"x": np.ones((10, 6)), "labels": np.zeros(10, dtype=int),
                 "labelled": np.ones(10, dtype=bool), **change}
    with pytest.raises(ValueError, match=message):
        ssb_vae.train(tiny_model, epochs=1, verbose=0, **arguments)


@expected_float32_overflow
def test_nan_loss_stops_training_naming_epoch_and_term(rng):
    x = rng.random((100, 8)).astype(np.float32)
    model = ssb_vae.build_model("ssb-vae", input_dim=8, n_classes=2, n_bits=4,
                                alpha=1e38, gamma=1e38, seed=0)
    with pytest.raises(ssb_vae.NonFiniteLossError, match=r"loss term '\w+' became (nan|inf) in epoch 1"):
        ssb_vae.train(model, x, labels=rng.integers(0, 2, 100), epochs=3, verbose=0)


def test_interrupted_save_leaves_the_existing_file_intact(tmp_path, monkeypatch, tiny_model):
    path = tmp_path / "model.keras"
    tiny_model.save(path)
    before = path.read_bytes()

    def broken_save(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as handle:
            handle.write(b"half a model")
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        tiny_model.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


def test_save_refuses_to_overwrite_when_asked(tmp_path, tiny_model):
    path = tmp_path / "model.keras"
    tiny_model.save(path)
    with pytest.raises(FileExistsError):
        tiny_model.save(path, overwrite=False)


LEGACY = Path(__file__).parent / "data"  # saved by ssb_vae at e87ab31, before the options were removed


@pytest.mark.parametrize("name", ["ssb_vae_multilabel", "phs_gs", "vdsh_s_sparse"])
def test_models_saved_by_the_earlier_version_load_and_give_the_same_codes(name):
    model = ssb_vae.load_model(LEGACY / f"legacy_{name}.keras")
    x = np.load(LEGACY / "legacy_x.npy")
    np.testing.assert_array_equal(ssb_vae.hash_codes(model, x), np.load(LEGACY / f"legacy_{name}_codes.npy"))
    assert "label_prior" not in model.get_config()


def test_a_saved_model_with_a_removed_option_on_is_refused_by_name():
    with pytest.raises(ValueError, match="label_prior=True, an option measured and removed"):
        ssb_vae.load_model(LEGACY / "legacy_ssb_vae_label_prior.keras")


def test_the_config_is_the_spec_and_options_are_keyword_only():
    from dataclasses import asdict

    model = ssb_vae.build_model("ssb-vae", 12, 8, 4, hidden_units=8, seed=1)
    assert {k: v for k, v in model.get_config().items() if k not in ("name", "trainable", "method")} == asdict(model.spec)
    with pytest.raises(TypeError):
        ssb_vae.build_model("ssb-vae", 12, 8, 4, 0.1)  # α cannot be given by position
    with pytest.raises(TypeError):
        ssb_vae.build_model("ssb-vae", 12, 8, 4, label_prior=True)  # a removed option is no argument
