"""The input pipeline: sparse matrices are densified batch by batch, never as a whole."""

import numpy as np
import scipy.sparse as sp

from ssb_vae.batches import make_batches
from ssb_vae.matrices import normalize_rows


def test_a_huge_sparse_matrix_is_fed_batch_by_batch():
    # dense, this matrix would take 400 GB; a batch of 100 rows takes 40 MB
    n_rows, n_columns = 1_000_000, 100_000
    rows = np.arange(0, n_rows, 7)
    x = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, rows % n_columns)), shape=(n_rows, n_columns))
    batch = next(iter(make_batches({"x": x, "labelled": np.ones(n_rows, np.float32)}, batch_size=100)))
    dense = batch["x"].numpy()
    assert dense.shape == (100, n_columns)
    np.testing.assert_array_equal(dense, x[:100].toarray())
    assert batch["labelled"].shape == (100,)


def test_shuffled_batches_cover_every_row_once_and_follow_the_seed(rng):
    x = sp.random(250, 30, density=0.2, format="csr", dtype=np.float32, random_state=3)
    ids = np.arange(250, dtype=np.float32)
    orders = []
    for _ in range(2):
        batches = list(make_batches({"x": x, "id": ids}, batch_size=64, shuffle=True, seed=5))
        order = np.concatenate([b["id"].numpy() for b in batches]).astype(int)
        assert sorted(order) == list(range(250))
        dense = np.concatenate([b["x"].numpy() for b in batches])
        np.testing.assert_array_equal(dense, x[order].toarray())
        orders.append(order)
    np.testing.assert_array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[0], np.arange(250))


def test_normalize_rows_keeps_empty_rows_zero():
    x = sp.csr_matrix(np.array([[1.0, 3.0], [0.0, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(normalize_rows(x).toarray(), [[0.25, 0.75], [0.0, 0.0]])
    np.testing.assert_allclose(normalize_rows(x.toarray()), [[0.25, 0.75], [0.0, 0.0]])
