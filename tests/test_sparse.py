"""The sparse input path (issue 11): CSR batches, the SparseDense first layer, and models built
with ``sparse_inputs=True``, each against its dense counterpart."""

import keras
import numpy as np
import pytest
import scipy.sparse as sp
import tensorflow as tf

import ssb_vae
from conftest import shared_file
from ssb_vae.batches import make_batches
from ssb_vae.csr import csr_names
from ssb_vae.layers import SparseDense


def random_csr(rng, n, d, density, empty_rows=()):
    matrix = sp.random(n, d, density=density, format="csr", dtype=np.float32, random_state=rng)
    matrix = sp.lil_matrix(matrix)
    for row in empty_rows:
        matrix[row] = 0
    matrix = sp.csr_matrix(matrix)
    matrix.eliminate_zeros()
    return matrix


def csr_batch(matrix):
    """The model-input CSR parts of ``matrix`` as one batch from the package's pipeline."""
    (batch,) = list(make_batches({"x": matrix}, matrix.shape[0], sparse=("x",)))
    return tuple(batch[name] for name in csr_names("x"))


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("n, density, empty_rows", [(7, 0.3, (0, 4)), (50, 0.05, (49,)), (1, 0.5, ())])
def test_sparse_dense_layer_equals_dense_in_outputs_and_gradients(rng, jit, n, density, empty_rows):
    d, units = 40, 6
    matrix = random_csr(rng, n, d, density, empty_rows)
    parts = csr_batch(matrix)
    assert int(tf.size(parts[1])) > matrix.nnz or matrix.nnz < 64  # padding entries are present
    sparse_layer = SparseDense(units, d, activation="relu")
    dense_layer = keras.layers.Dense(units, activation="relu")
    sparse_layer.build(None)
    dense_layer.build((None, d))
    kernel = rng.normal(size=(d, units)).astype(np.float32)
    bias = rng.normal(size=units).astype(np.float32)
    for layer in (sparse_layer, dense_layer):
        layer.set_weights([kernel, bias])
    upstream = tf.constant(rng.normal(size=(n, units)).astype(np.float32))

    def outputs_and_gradients(layer, inputs):
        with tf.GradientTape() as tape:
            outputs = layer(inputs)
            loss = tf.reduce_sum(outputs * upstream)
        return [outputs, *tape.gradient(loss, [layer.kernel, layer.bias])]

    sparse_run = tf.function(outputs_and_gradients, jit_compile=True) if jit else outputs_and_gradients
    got = sparse_run(sparse_layer, parts)
    expected = outputs_and_gradients(dense_layer, tf.constant(matrix.toarray()))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-5, atol=1e-6)
    assert not np.asarray(got[0])[list(empty_rows)].any() or bias.max() > 0  # empty rows: relu(bias)


def test_csr_batches_hold_exactly_the_shuffled_rows_with_bounded_padding(rng):
    matrix = random_csr(rng, 230, 31, 0.2, empty_rows=(3, 100))
    seen = []
    for batch in make_batches({"x": matrix, "rows": np.arange(230)}, 64, shuffle=True, seed=4, sparse=("x",)):
        lengths, columns, values = (batch[name].numpy() for name in csr_names("x"))
        rows = batch["rows"].numpy()
        n_entries = lengths.sum()
        assert n_entries <= len(columns) <= max(64, 1.5 * n_entries)
        assert not values[n_entries:].any()
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        rebuilt = sp.csr_matrix((values[:n_entries], columns[:n_entries], indptr), shape=(len(rows), 31))
        np.testing.assert_array_equal(rebuilt.toarray(), matrix[rows].toarray())
        seen.extend(rows)
    assert sorted(seen) == list(range(230))


def _inputs(model, features):
    sparse = ("x", "target") if model.spec.sparse_inputs else ()
    (batch,) = list(make_batches(features, features["x"].shape[0], sparse=sparse))
    return batch


@pytest.mark.parametrize("method", ssb_vae.METHODS)
def test_a_sparse_model_adds_the_same_losses_as_the_dense_model(rng, method):
    """Built with the same seed, both have the same weights and noise; on one batch their loss
    terms agree to float rounding (the dense model's total is checked against docs/method.md §3 in
    test_losses)."""
    x = random_csr(rng, 20, 30, 0.2, empty_rows=(5,))
    from ssb_vae.training import training_features

    totals = []
    for sparse_inputs in (False, True):
        model = ssb_vae.build_model(method, input_dim=30, n_bits=8, n_classes=4, alpha=0.5, beta=0.2,
                                    gamma=3.0, hidden_units=16, seed=9, sparse_inputs=sparse_inputs)
        labelled = np.arange(20) % 3 != 0
        features = training_features(model, x, labels=np.arange(20) % 4, labelled=labelled)
        model(_inputs(model, features), training=True)
        totals.append([float(loss) for loss in model.losses])
    np.testing.assert_allclose(totals[1], totals[0], rtol=2e-5)


@pytest.mark.slow
def test_sparse_fit_follows_the_dense_fit_on_real_data():
    """20 Newsgroups, 2,000 items, seeded ssb-vae: the running loss of the first 20 steps of the
    sparse path stays with the dense path's (same weights, same batches, same noise)."""
    shared_file("20news-bydate.tar.gz")
    from ssb_vae.data import load_dataset

    data = load_dataset("20news", data_dir=shared_file("20news-bydate.tar.gz").parent, download=False)
    sup = data.with_supervision(0.3, seed=20)
    x, target, labels = sup.database.x[:2000], sup.database.target[:2000], sup.database.labels[:2000]
    curves = []
    for sparse_inputs in (False, True):
        model = ssb_vae.build_model("ssb-vae", input_dim=x.shape[1], n_classes=20, n_bits=16, alpha=0.001,
                                    beta=0.015625, gamma=1000, seed=20, sparse_inputs=sparse_inputs)
        losses = []
        logger = keras.callbacks.LambdaCallback(on_train_batch_end=lambda step, logs: losses.append(logs["loss"]))
        ssb_vae.train(model, x, target=target, labels=labels, labelled=sup.labelled[:2000], epochs=1,
                      verbose=0, steps_per_execution=1, callbacks=[logger])
        curves.append(np.array(losses))
    assert len(curves[0]) == 20 and curves[0][-1] < curves[0][0]
    np.testing.assert_allclose(curves[1], curves[0], rtol=2e-3)


@pytest.mark.slow
def test_a_saved_sparse_model_reloads_and_gives_the_same_codes_from_csr_and_dense(rng, tmp_path):
    x = random_csr(rng, 300, 50, 0.1, empty_rows=(7,))
    labels = rng.integers(0, 3, 300)
    model = ssb_vae.build_model("phs-gs", input_dim=50, n_classes=3, n_bits=16, seed=2, sparse_inputs=True)
    ssb_vae.train(model, x, labels=labels, epochs=2, verbose=0)
    model.save(tmp_path / "sparse.keras")
    reloaded = ssb_vae.load_model(tmp_path / "sparse.keras")
    assert reloaded.spec.sparse_inputs
    codes = ssb_vae.hash_codes(model, x)
    assert len({row.tobytes() for row in codes}) > 1
    for hashed in (ssb_vae.hash_codes(reloaded, x), ssb_vae.hash_codes(reloaded, x.toarray())):
        np.testing.assert_array_equal(hashed, codes)


@pytest.mark.parametrize("change, message", [
    (lambda x: sp.csr_matrix((x.data, x.indices, x.indptr), shape=(x.shape[0], 60)), "has 60 columns but the model expects 50"),
    (lambda x: sp.csr_matrix((np.where(np.arange(x.nnz) == 3, np.nan, x.data), x.indices, x.indptr), shape=x.shape),
     "contains NaN"),
])
def test_bad_csr_input_is_refused_clearly(rng, change, message):
    x = change(random_csr(rng, 40, 50, 0.1))
    model = ssb_vae.build_model("bvae", input_dim=50, n_bits=8, seed=1, sparse_inputs=True)
    with pytest.raises(ValueError, match=message):
        ssb_vae.train(model, x, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=message):
        ssb_vae.hash_codes(model, x)


@pytest.mark.parametrize("sparse_inputs", [False, True])
def test_hashing_batch_by_batch_gives_the_same_codes_for_any_batch_size(sparse_inputs):
    x = sp.random(53, 40, density=0.2, format="csr", random_state=4, dtype=np.float32)
    model = ssb_vae.build_model("ssb-vae", 40, 12, 3, seed=1, sparse_inputs=sparse_inputs)
    whole = ssb_vae.hash_codes(model, x, batch_size=100)
    np.testing.assert_array_equal(ssb_vae.hash_codes(model, x, batch_size=3), whole)
    np.testing.assert_array_equal(ssb_vae.hash_codes(model, x.toarray(), batch_size=7), whole)
    assert whole.dtype == np.uint8 and whole.shape == (53, 12)


def test_numpy_csr_batches_match_the_tf_data_ones():
    from ssb_vae.batches import csr_batch, padded_entries, padded_size

    for n in (0, 1, 63, 64, 65, 95, 96, 97, 128, 129, 1000, 12345):
        assert padded_size(n) == int(padded_entries(n)), n
    x = sp.random(30, 40, density=0.3, format="csr", random_state=5, dtype=np.float32)
    graph = next(iter(make_batches({"x": x[4:19]}, batch_size=15, sparse=["x"])))
    for mine, theirs in zip(csr_batch(x, 4, 19), (graph[name] for name in csr_names("x"))):
        np.testing.assert_array_equal(mine, theirs.numpy())
