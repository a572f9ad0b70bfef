"""Lazy Adam (ssb_vae.optimizers) against a NumPy reference, and training with it."""

import numpy as np
import pytest
import scipy.sparse as sp

import ssb_vae
from ssb_vae.backend import keras
from ssb_vae.backend import tensorflow as tf
from ssb_vae.optimizers import LazyAdam

B1, B2, EPS, LR = 0.9, 0.999, 1e-7, 0.01


def reference_step(w, m, v, g, rows, t):
    """Lazy Adam in NumPy: rows in ``rows`` (g summed per row) follow Adam at global step t."""
    m, v, w = m.copy(), v.copy(), w.copy()
    alpha = LR * np.sqrt(1 - B2 ** t) / (1 - B1 ** t)
    m[rows] = B1 * m[rows] + (1 - B1) * g[rows]
    v[rows] = B2 * v[rows] + (1 - B2) * g[rows] ** 2
    w[rows] -= alpha * m[rows] / (np.sqrt(v[rows]) + EPS)
    return w, m, v


def dense_adam_step(w, m, v, g, t):
    return reference_step(w, m, v, g, np.arange(len(w)), t)


def test_touched_rows_follow_adam_untouched_rows_stay_and_dense_gradients_get_adam():
    rng = np.random.default_rng(0)
    w0, b0 = rng.normal(size=(6, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    kernel, bias = keras.Variable(w0), keras.Variable(b0)
    optimizer = LazyAdam(LR)
    optimizer.build([kernel, bias])
    w, m, v = w0.astype(np.float64), np.zeros((6, 3)), np.zeros((6, 3))
    b, mb, vb = b0.astype(np.float64), np.zeros((1, 3)), np.zeros((1, 3))
    b = b[None, :]
    for t, touched in enumerate(([1, 3, 3, 0], [3, 4], [5]), start=1):
        values = rng.normal(size=(len(touched), 3)).astype(np.float32)
        bias_gradient = rng.normal(size=3).astype(np.float32)
        stored = kernel.numpy().copy()
        optimizer.apply([tf.IndexedSlices(tf.constant(values), tf.constant(touched)), tf.constant(bias_gradient)],
                        [kernel, bias])
        summed = np.zeros((6, 3))
        np.add.at(summed, touched, values)  # a row named twice gets both parts
        w, m, v = reference_step(w, m, v, summed, sorted(set(touched)), t)
        b, mb, vb = dense_adam_step(b, mb, vb, bias_gradient[None, :].astype(np.float64), t)
        np.testing.assert_allclose(kernel.numpy(), w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(bias.numpy(), b[0], rtol=1e-5, atol=1e-6)
        untouched = sorted(set(range(6)) - set(touched))
        np.testing.assert_array_equal(kernel.numpy()[untouched], stored[untouched])  # bit for bit
    np.testing.assert_array_equal(kernel.numpy()[2], w0[2])  # never touched: never moved


# the inner loop checks the headline method; the Gaussian (VDSH-S) and unsupervised (B-VAE)
# variants run in the full suite
@pytest.mark.parametrize("method", ["ssb-vae", pytest.param("vdsh-s", marks=pytest.mark.slow),
                                    pytest.param("bvae", marks=pytest.mark.slow)])
def test_the_split_step_takes_the_exact_adam_step_when_every_moment_is_zero(method):
    """From zero moments a row with zero gradient does not move under Adam either, so the first
    step of the fast path (ssb_vae.split_step: first layer outside XLA, lazy rows) must equal the
    default XLA step with exact Adam, up to the rounding of a different summation order."""
    x = sp.random(50, 60, density=0.1, format="csr", random_state=3, dtype=np.float32)
    x.data[:] = np.random.default_rng(0).integers(1, 4, x.nnz)
    labels, labelled = np.arange(50) % 4, np.random.default_rng(2).random(50) < 0.5
    weights, logs = [], []
    for optimizer in ("adam", "lazy-adam"):
        model = ssb_vae.build_model(method, 60, 8, 4, alpha=0.3, gamma=5, beta=0.5, seed=1, sparse_inputs=True)
        history = ssb_vae.train(model, x, labels=labels, labelled=labelled, epochs=1, batch_size=50, verbose=0,
                                optimizer=optimizer)
        weights.append([weight.numpy() for weight in model.weights])
        logs.append(history.history)
    assert sorted(logs[0]) == sorted(logs[1])
    for term in logs[0]:
        np.testing.assert_allclose(logs[1][term], logs[0][term], rtol=1e-5)
    initial = ssb_vae.build_model(method, 60, 8, 4, alpha=0.3, gamma=5, beta=0.5, seed=1, sparse_inputs=True)
    for exact, split in zip(*weights):
        # a first Adam step moves a weight by lr · g / (|g| + ε), lr = 1e-3: by up to lr, and for a
        # gradient near ε = 1e-7 by an amount that the rounding of g (a different summation order,
        # threads) can change, so a few such weights may differ; a wrong row or gradient moves many
        difference = np.abs(split - exact)
        assert difference.max() <= 2e-3
        assert np.mean(difference > 1e-4) <= 1e-3, np.mean(difference > 1e-4)
    kernel = weights[0][0]
    assert np.abs(kernel - initial.weights[0].numpy()).max() > 5e-4  # the step did move the first layer


def test_a_lazy_adam_model_trains_saves_and_hashes_identically(tmp_path):
    x = sp.random(120, 40, density=0.1, format="csr", random_state=2, dtype=np.float32)
    x = sp.csr_matrix(x.multiply(np.arange(40) < 35))  # columns no item holds: their rows must never move
    labels = np.arange(120) % 3
    model = ssb_vae.build_model("ssb-vae", 40, 8, 3, seed=0, sparse_inputs=True, hidden_units=16)
    before = model.get_layer("encoder_1").kernel.numpy().copy()
    history = ssb_vae.train(model, x, labels=labels, epochs=2, batch_size=30, verbose=0, optimizer="lazy-adam")
    assert np.isfinite(history.history["loss"]).all()
    after = model.get_layer("encoder_1").kernel.numpy()
    np.testing.assert_array_equal(after[35:], before[35:])
    assert not np.array_equal(after[:35], before[:35])
    model.save(tmp_path / "lazy.keras")
    reloaded = ssb_vae.load_model(tmp_path / "lazy.keras")
    codes = ssb_vae.hash_codes(model, x)
    np.testing.assert_array_equal(ssb_vae.hash_codes(reloaded, x), codes)
    np.testing.assert_array_equal(ssb_vae.hash_codes(reloaded, x.toarray()), codes)


@pytest.mark.slow
def test_a_lazy_adam_run_is_deterministic():
    x = sp.random(90, 30, density=0.1, format="csr", random_state=3, dtype=np.float32)
    codes = []
    for _ in range(2):
        keras.utils.set_random_seed(5)
        model = ssb_vae.build_model("phs-gs", 30, 8, 3, seed=5, sparse_inputs=True, hidden_units=16)
        ssb_vae.train(model, x, labels=np.arange(90) % 3, epochs=2, batch_size=30, verbose=0, optimizer="lazy-adam")
        codes.append(ssb_vae.hash_codes(model, x))
    np.testing.assert_array_equal(*codes)


def test_bad_optimizer_choices_are_refused():
    x = np.eye(10, dtype=np.float32)
    dense = ssb_vae.build_model("vdsh", 10, 4, seed=0)
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'; valid optimizers: adam, lazy-adam"):
        ssb_vae.train(dense, x, epochs=1, optimizer="sgd")
    with pytest.raises(ValueError, match="needs a model built with sparse_inputs=True"):
        ssb_vae.train(dense, x, epochs=1, optimizer="lazy-adam")
    sparse = ssb_vae.build_model("vdsh", 10, 4, seed=0, sparse_inputs=True)
    with pytest.raises(ValueError, match="trains with a step of its own"):
        ssb_vae.train(sparse, x, epochs=1, optimizer="lazy-adam", jit_compile=True)


@pytest.mark.slow
def test_fast_runs_have_keys_of_their_own_and_both_resume(tmp_path, capsys):
    import pandas as pd

    from ssb_vae import runner
    from tests.conftest import rows_of

    words = ["orbit rocket moon nasa", "engine wheel brake motor", "flour sugar oven dough"]
    pd.DataFrame([{"text": f"{words[i % 3]} doc{i}", "label": f"c{i % 3}"} for i in range(90)]).to_csv(
        tmp_path / "c.csv", index=False)
    out = tmp_path / "r.csv"
    quick = ["--dataset", str(tmp_path / "c.csv"), "--methods", "vdsh-s", "--levels", "0.5", "--epochs", "1",
             "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--no-report"]
    for extra in ([], ["--fast"]):
        assert runner.main([*quick, *extra]) == 0
    default, fast = rows_of(out)
    assert (default["optimizer"], default["model_options"]) == ("adam", "")
    assert (fast["optimizer"], fast["model_options"]) == ("lazy-adam", "sparse_inputs=True")
    assert default["codes_file"] != fast["codes_file"]
    capsys.readouterr()
    for extra in ([], ["--fast"]):
        assert runner.main([*quick, *extra]) == 0
        assert "1 already in" in capsys.readouterr().out
    assert len(rows_of(out)) == 2


def test_fast_on_dense_features_is_refused():
    from ssb_vae.runner import build_grid, parser

    with pytest.raises(ValueError, match="--fast speeds up the sparse first layer of text data; digits has dense"):
        build_grid(parser().parse_args(["--dataset", "digits", "--fast"]))
    with pytest.raises(ValueError, match="given twice"):
        build_grid(parser().parse_args(["--dataset", "20news", "--fast", "--model-option", "sparse_inputs=false"]))
