"""The train step of the fast path (``train(..., optimizer="lazy-adam")``, issue 23).

One step of a sparse-input model with a lazily updated first layer, in three parts:

1. the first layer's product P = X · W₁: the batch scattered dense onto the columns it touches
   (n × T, its padding dropped) times the gathered touched rows of W₁;
2. everything after it — the first layer's bias and ReLU, the encoder tail, the latent layer, the
   decoder, the loss terms of docs/method.md §3, their gradients and the exact Adam updates of all
   those weights — as one XLA function, whose shapes are fixed (in: the batch × units product,
   the target's padded CSR parts, the labels; out: the loss and ∂loss/∂P);
3. W₁'s gradient on the touched rows, (the same n × T batch)ᵀ · ∂loss/∂P, and their lazy Adam
   update (``LazyAdam.update_rows``).

The losses, gradients and updates are those of exact Adam on every weight but W₁, whose untouched
rows keep their weights and moments; XLA compiles the part whose shapes are fixed, and the part
whose size follows the batch's touched columns (which XLA would recompile for every batch) runs on
TensorFlow's kernels (docs/performance.md has the parts' costs).
"""

from __future__ import annotations

from ssb_vae.backend import keras
from ssb_vae.backend import tensorflow as tf
from ssb_vae.csr import csr_names

FIRST_LAYER = "encoder_1"


class SplitTrainStep:
    """``model.train_step`` of the fast path, for a compiled sparse-input model with ``LazyAdam``.

    Not a Keras layer on purpose: the model holds it without tracking the tail model it builds
    (which shares the model's layers), so saving and the model's weights are unchanged.
    """

    def __init__(self, model: keras.Model):
        self.model = model
        self.first = model.get_layer(FIRST_LAYER)
        self.x_parts = csr_names("x")
        self.tail_names = [name for name in model.input if name not in self.x_parts]
        self.tail = keras.Model([self.first.output, *(model.input[name] for name in self.tail_names)],
                                model.output)
        self.tail_weights = [weight for weight in model.trainable_weights if weight is not self.first.kernel]
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_weights)
        self.tail_step = tf.function(self._tail_step, jit_compile=True)

    def _tail_step(self, product, tail_inputs):
        """Part 2: the loss from the first layer's product on, its gradients, and exact Adam on
        every weight but W₁; returns the loss and ∂loss/∂product."""
        optimizer = self.model.optimizer
        with tf.GradientTape() as tape:
            tape.watch(product)
            hidden = self.first.activation(product + self.first.bias)
            self.tail([hidden, *tail_inputs], training=True)
            loss = tf.add_n(self.tail.losses)
        upstream, *gradients = tape.gradient(loss, [product, *self.tail_weights])
        for gradient, weight in zip(gradients, self.tail_weights):
            optimizer.update_step(gradient, weight, optimizer.learning_rate)
        return loss, upstream

    def __call__(self, data: dict) -> dict:
        model, optimizer, kernel = self.model, self.model.optimizer, self.first.kernel
        lengths, columns, values = (data[name] for name in self.x_parts)
        n_rows, n_stored = tf.shape(lengths)[0], tf.reduce_sum(lengths)
        touched, position = tf.unique(columns[:n_stored])
        rows = tf.repeat(tf.range(n_rows), lengths)
        # the batch on its touched columns only, dense: n × T, T ≈ 4,000 of 10,000 on 20 Newsgroups
        batch = tf.scatter_nd(tf.stack([rows, position], axis=1), values[:n_stored], tf.stack([n_rows, tf.shape(touched)[0]]))
        product = tf.matmul(batch, tf.gather(kernel.value, touched))
        loss, upstream = self.tail_step(product, [data[name] for name in self.tail_names])
        row_gradients = tf.matmul(batch, upstream, transpose_a=True)
        optimizer.update_rows(touched, row_gradients, kernel, optimizer.learning_rate)
        optimizer.iterations.assign_add(1)
        model._loss_tracker.update_state(loss, sample_weight=n_rows)
        return model.get_metrics_result()
