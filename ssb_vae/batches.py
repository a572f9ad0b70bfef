"""The tf.data pipeline that feeds (sparse) matrices to a model in dense batches.

Text data stays a scipy CSR matrix end to end; each mini-batch is gathered and densified inside
the tf.data graph (on the fly, in C++), so the whole matrix is never dense in memory. Dense
batches let the train step be compiled by XLA, which measured faster than TensorFlow's sparse
products at this size (bench/train_speed.py).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import tensorflow as tf


def _row_gatherer(matrix):
    """A function from a batch of row indices to the dense float32 rows of ``matrix``."""
    if not sp.issparse(matrix):
        table = tf.constant(matrix)
        return lambda rows: tf.gather(table, rows)
    splits = tf.constant(matrix.indptr.astype(np.int64))
    columns = tf.RaggedTensor.from_row_splits(tf.constant(matrix.indices.astype(np.int64)), splits)
    values = tf.RaggedTensor.from_row_splits(tf.constant(matrix.data), splits)
    width = matrix.shape[1]

    def gather(rows):
        batch_columns = tf.gather(columns, rows)
        positions = tf.stack([batch_columns.value_rowids(), batch_columns.flat_values], axis=1)
        shape = tf.stack([tf.size(rows, out_type=tf.int64), width])
        return tf.scatter_nd(positions, tf.gather(values, rows).flat_values, shape)

    return gather


def make_batches(
    features: dict,
    batch_size: int,
    shuffle: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """A dataset of dicts of dense float32 batches, one key per entry of ``features``.

    ``features`` maps input names to equally long matrices or vectors (CSR or numpy). With
    ``shuffle`` the order is redrawn every epoch from ``seed``.
    """
    n_items = next(iter(features.values())).shape[0]
    gatherers = {name: _row_gatherer(value) for name, value in features.items()}
    order = tf.data.Dataset.range(n_items)
    if shuffle:
        order = order.shuffle(n_items, seed=seed, reshuffle_each_iteration=True)
    batches = order.batch(batch_size).map(
        lambda rows: {name: gather(rows) for name, gather in gatherers.items()},
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return batches.prefetch(tf.data.AUTOTUNE)
