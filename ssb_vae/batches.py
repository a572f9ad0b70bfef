"""The tf.data pipeline that feeds (sparse) matrices to a model batch by batch.

Text data stays a scipy CSR matrix end to end: each mini-batch is gathered inside the tf.data
graph (in C++), so the whole matrix is never dense in memory. A batch of a matrix goes to the
model either dense (for ``Dense`` first layers) or as its CSR parts (``ssb_vae.csr``, for sparse
models), padded to one of a few sizes so that XLA compiles few shapes.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import scipy.sparse as sp
from ssb_vae.backend import tensorflow as tf

from ssb_vae.csr import csr_names

MIN_ENTRIES = 64  # the smallest padded number of entries of a CSR batch


def padded_entries(n_entries):
    """The padded length of a CSR batch of ``n_entries``: 2^k or 1.5 · 2^k, the smallest that
    holds them (never below ``MIN_ENTRIES``), so at most 50% padding and few shapes to compile.
    The cost of a padding entry (a gathered row times 0) is far below that of a compilation."""
    n_entries = tf.maximum(tf.cast(n_entries, tf.int64), MIN_ENTRIES)
    exponent = tf.cast(tf.math.floor(tf.math.log(tf.cast(n_entries - 1, tf.float64)) / np.log(2.0)), tf.int64)
    step = tf.bitwise.left_shift(tf.constant(1, tf.int64), exponent - 1)
    return (n_entries + step - 1) // step * step


def padded_size(n_entries: int) -> int:
    """``padded_entries`` for a Python int (the batches that NumPy builds, ``csr_batch``)."""
    n_entries = max(int(n_entries), MIN_ENTRIES)
    step = 1 << ((n_entries - 1).bit_length() - 2)
    return -(-n_entries // step) * step


def csr_batch(matrix: sp.csr_matrix, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows start … stop − 1 of a CSR matrix as the padded CSR parts (lengths, columns, values)
    that ``_csr_gatherer`` makes in the tf.data graph, built in NumPy from views of the matrix."""
    first, last = matrix.indptr[start], matrix.indptr[stop]
    n_padding = padded_size(last - first) - (last - first)
    lengths = np.diff(matrix.indptr[start:stop + 1]).astype(np.int32)
    columns = np.concatenate([matrix.indices[first:last], np.arange(n_padding) % matrix.shape[1]])
    values = np.concatenate([matrix.data[first:last], np.zeros(n_padding, np.float32)])
    return lengths, columns.astype(np.int32), values.astype(np.float32)


def _ragged_rows(matrix):
    """The CSR matrix as ragged column and value tensors, one row per matrix row."""
    splits = tf.constant(matrix.indptr.astype(np.int64))
    columns = tf.RaggedTensor.from_row_splits(tf.constant(matrix.indices.astype(np.int32)), splits)
    values = tf.RaggedTensor.from_row_splits(tf.constant(matrix.data), splits)
    return columns, values


def _dense_gatherer(matrix):
    """A function from a batch of row indices to the dense float32 rows of ``matrix``."""
    if not sp.issparse(matrix):
        table = tf.constant(matrix)
        return lambda rows: tf.gather(table, rows)
    columns, values = _ragged_rows(matrix)
    width = matrix.shape[1]

    def gather(rows):
        batch_columns = tf.gather(columns, rows)
        positions = tf.stack([batch_columns.value_rowids(), tf.cast(batch_columns.flat_values, tf.int64)], axis=1)
        shape = tf.stack([tf.size(rows, out_type=tf.int64), width])
        return tf.scatter_nd(positions, tf.gather(values, rows).flat_values, shape)

    return gather


def _csr_gatherer(matrix):
    """A function from a batch of row indices to the padded CSR parts (lengths, columns, values).

    Padding entries have value 0 and distinct columns, so that no row of the first layer's
    weights is hit by all of them at once."""
    matrix = sp.csr_matrix(matrix)
    columns, values = _ragged_rows(matrix)
    width = matrix.shape[1]

    def gather(rows):
        batch_columns, batch_values = tf.gather(columns, rows), tf.gather(values, rows)
        n_entries = tf.size(batch_columns.flat_values, out_type=tf.int64)
        n_padding = padded_entries(n_entries) - n_entries
        padding_columns = tf.cast(tf.range(n_padding) % width, tf.int32)
        return (tf.cast(batch_columns.row_lengths(), tf.int32),
                tf.concat([batch_columns.flat_values, padding_columns], axis=0),
                tf.pad(batch_values.flat_values, [[0, n_padding]]))

    return gather


def make_batches(
    features: dict,
    batch_size: int,
    shuffle: bool = False,
    seed: int | None = None,
    sparse: Iterable[str] = (),
) -> tf.data.Dataset:
    """A dataset of dicts of float32 batches, one key per entry of ``features``.

    ``features`` maps input names to equally long matrices or vectors (CSR or numpy). The
    matrices named in ``sparse`` are given as their CSR parts (keys ``csr_names(name)``), the
    others dense. With ``shuffle`` the order is redrawn every epoch from ``seed``.
    """
    sparse = set(sparse)
    n_items = next(iter(features.values())).shape[0]
    gatherers = {name: _csr_gatherer(value) if name in sparse else _dense_gatherer(value)
                 for name, value in features.items()}

    def batch(rows):
        result = {}
        for name, gather in gatherers.items():
            if name in sparse:
                result.update(zip(csr_names(name), gather(rows)))
            else:
                result[name] = gather(rows)
        return result

    order = tf.data.Dataset.range(n_items)
    if shuffle:
        order = order.shuffle(n_items, seed=seed, reshuffle_each_iteration=True)
    batches = order.batch(batch_size).map(batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return batches.prefetch(tf.data.AUTOTUNE)
