"""Lazy Adam: Adam that updates only the rows of a weight matrix that a batch touches.

For a gradient given as rows (a ``tf.IndexedSlices``, or the touched rows that the fast path's
step hands to ``update_rows``, ``ssb_vae.split_step``), the moments and the weights of those rows
follow Adam and every other row keeps its weights and moments, as in TensorFlow Addons' LazyAdam
and PyTorch's SparseAdam; the bias correction uses the global step. Every variable whose gradient is dense gets Keras' exact Adam.
It is an option (``train(..., optimizer="lazy-adam")``), not the default: it changes the updates
of the rows a batch does not touch, so its retrieval quality must be measured (issue 23).
"""

from __future__ import annotations

from ssb_vae.backend import keras
from ssb_vae.backend import tensorflow as tf

ops = keras.ops
OPTIMIZERS = ("adam", "lazy-adam")


def summed_rows(gradient: "tf.IndexedSlices") -> tuple:
    """(row indices, one summed gradient row each) of a gradient that may name a row twice."""
    rows, position = tf.unique(gradient.indices)
    return rows, tf.math.unsorted_segment_sum(gradient.values, position, tf.shape(rows)[0])


@keras.saving.register_keras_serializable(package="ssb_vae")
class LazyAdam(keras.optimizers.Adam):
    """Adam with row-lazy updates for row gradients (see the module docstring)."""

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        if self.amsgrad:
            raise ValueError("LazyAdam does not implement amsgrad")
        self.update_rows(*summed_rows(gradient), variable, learning_rate)

    def step_size(self, variable, learning_rate):
        """Adam's bias-corrected step size at the coming step, lr · √(1 − β₂ᵗ) / (1 − β₁ᵗ)."""
        step = ops.cast(self.iterations + 1, variable.dtype)
        return ops.cast(learning_rate, variable.dtype) * ops.sqrt(
            1 - ops.power(ops.cast(self.beta_2, variable.dtype), step)) / (
            1 - ops.power(ops.cast(self.beta_1, variable.dtype), step))

    def update_rows(self, rows, values, variable, learning_rate):
        """Adam on the rows ``rows`` (distinct) of ``variable``, whose gradient rows are ``values``."""
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        m_rows, v_rows, steps = adam_rows(
            tf.gather(m.value, rows), tf.gather(v.value, rows), ops.cast(values, variable.dtype),
            self.step_size(variable, learning_rate), self.beta_1, self.beta_2, self.epsilon)
        self.assign(m, tf.IndexedSlices(m_rows, rows))
        self.assign(v, tf.IndexedSlices(v_rows, rows))
        self.assign_sub(variable, tf.IndexedSlices(steps, rows))


def adam_rows(m_rows, v_rows, gradient_rows, step_size, beta_1, beta_2, epsilon):
    """Adam on some rows: their new first and second moments and the step to subtract from them."""
    m_rows = beta_1 * m_rows + (1 - beta_1) * gradient_rows
    v_rows = beta_2 * v_rows + (1 - beta_2) * ops.square(gradient_rows)
    return m_rows, v_rows, step_size * m_rows / (ops.sqrt(v_rows) + epsilon)


def make_optimizer(name: str, learning_rate: float):
    """The optimizer called ``name`` (one of ``OPTIMIZERS``), or a ValueError listing them."""
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "lazy-adam":
        return LazyAdam(learning_rate)
    raise ValueError(f"unknown optimizer {name!r}; valid optimizers: {', '.join(OPTIMIZERS)}")
