"""Training speed of ssb-vae (16 bits, batch 100) on 20 Newsgroups, for each way the package can feed it.

Each configuration runs in a fresh process (so its peak memory is its own); printed: seconds per
epoch (median over the epochs after the first, which includes compilation), milliseconds per
step, and peak resident memory; last, the same model trained by a hand-written ``tf.function``
step, the in-run reference for the overhead of Keras' ``fit``. Uses
../shared/data/20news-bydate.tar.gz when present, else a synthetic sparse matrix of the same
shape and density.

    python bench/train_speed.py [--epochs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
# name → (build_model options, train options)
DEFAULT = "dense batches, XLA, 10 steps/execution (default)"
CONFIGS = {
    DEFAULT: ({}, {"jit_compile": True, "steps_per_execution": 10}),
    "dense batches, no XLA, 10 steps/execution": ({}, {"jit_compile": False, "steps_per_execution": 10}),
    "CSR batches, SparseDense (sparse_inputs=True), XLA, 10 steps/execution":
        ({"sparse_inputs": True}, {"jit_compile": True, "steps_per_execution": 10}),
    "CSR batches, SparseDense (sparse_inputs=True), XLA, 1 step/execution":
        ({"sparse_inputs": True}, {"jit_compile": True, "steps_per_execution": 1}),
    "CSR batches, SparseDense (sparse_inputs=True), no XLA":
        ({"sparse_inputs": True}, {"jit_compile": False, "steps_per_execution": 10}),
    "CSR batches, lazy first-layer Adam (optimizer=lazy-adam), split step":
        ({"sparse_inputs": True}, {"optimizer": "lazy-adam", "steps_per_execution": 10}),
}
HAND_WRITTEN = "reference: the default model, hand-written tf.function step, XLA"


def load_data():
    import numpy as np
    import scipy.sparse as sp

    from ssb_vae.data import load_dataset

    if (SHARED / "20news-bydate.tar.gz").exists():
        data = load_dataset("20news", data_dir=SHARED, download=False)
        sup = data.with_supervision(0.1, seed=20)
        db = sup.database
        return "20news (real)", db.x, db.target, db.labels, sup.labelled, len(data.classes)
    n, d = 15076, 10000
    rng = np.random.default_rng(0)
    x = sp.random(n, d, density=0.0075, format="csr", dtype=np.float32, random_state=0)
    return "synthetic 15076×10000", x, None, rng.integers(0, 20, n), rng.random(n) < 0.1, 20


def measure(config_name: str, epochs: int) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    import ssb_vae

    source, x, target, labels, labelled, n_classes = load_data()
    model_options, train_options = CONFIGS[config_name]
    model = ssb_vae.build_model("ssb-vae", input_dim=x.shape[1], n_classes=n_classes, n_bits=16,
                                alpha=0.001, beta=0.015625, gamma=1000, seed=20, **model_options)
    epoch_seconds = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_seconds.append(time.perf_counter() - self.start)

    ssb_vae.train(model, x, target=target, labels=labels, labelled=labelled, epochs=epochs,
                  batch_size=100, verbose=0, callbacks=[Clock()], **train_options)
    steps = -(-x.shape[0] // 100)
    median = statistics.median(epoch_seconds[1:])
    return {
        "source": source, "items": x.shape[0], "nnz_fraction": x.nnz / (x.shape[0] * x.shape[1]),
        "first_epoch_s": epoch_seconds[0], "epoch_s": median, "step_ms": 1000 * median / steps,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def hand_written_step(epochs: int) -> dict:
    """The same model trained by a plain ``tf.function`` step (XLA) instead of ``Model.fit``:
    the in-run reference for the overhead of Keras' training loop."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    import ssb_vae
    from ssb_vae.batches import make_batches
    from ssb_vae.training import training_features

    source, x, target, labels, labelled, n_classes = load_data()
    model = ssb_vae.build_model("ssb-vae", input_dim=x.shape[1], n_classes=n_classes, n_bits=16,
                                alpha=0.001, beta=0.015625, gamma=1000, seed=20)
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    batches = make_batches(training_features(model, x, target, labels, labelled), 100, shuffle=True, seed=20)

    @tf.function(jit_compile=True)
    def step(batch):
        with tf.GradientTape() as tape:
            model(batch, training=True)
            loss = tf.add_n(model.losses)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    epoch_seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        for batch in batches:
            loss = step(batch)
        float(loss)
        epoch_seconds.append(time.perf_counter() - start)
    median = statistics.median(epoch_seconds[1:])
    return {"source": source, "items": x.shape[0], "nnz_fraction": x.nnz / (x.shape[0] * x.shape[1]),
            "first_epoch_s": epoch_seconds[0], "epoch_s": median,
            "step_ms": 1000 * median / -(-x.shape[0] // 100),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def first_layer_products() -> dict:
    """Forward + weight gradient of the 100 × 10,000 → 500 first layer: dense vs sparse products."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import scipy.sparse as sp
    import tensorflow as tf

    from ssb_vae.layers import SparseDense

    batch = sp.random(100, 10000, density=0.0087, format="csr", dtype=np.float32, random_state=1)
    coo = batch.tocoo()
    sparse = tf.sparse.reorder(tf.SparseTensor(np.stack([coo.row, coo.col], 1).astype(np.int64), coo.data, coo.shape))
    dense = tf.constant(batch.toarray())
    csr = (tf.constant(np.diff(batch.indptr).astype(np.int32)), tf.constant(batch.indices.astype(np.int32)),
           tf.constant(batch.data))
    layer = SparseDense(500, 10000)
    layer.build(None)
    weights = layer.kernel.value

    def gradient(product):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(product()))
        return tf.convert_to_tensor(tape.gradient(loss, weights))

    candidates = {
        "dense matmul (XLA)": tf.function(lambda: gradient(lambda: tf.matmul(dense, weights)), jit_compile=True),
        "tf.sparse.sparse_dense_matmul": tf.function(lambda: gradient(lambda: tf.sparse.sparse_dense_matmul(sparse, weights))),
        "SparseDense: gather + segment sum (XLA)": tf.function(lambda: gradient(lambda: layer(csr)), jit_compile=True),
    }
    timings = {}
    for name, step in candidates.items():
        step()
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(20):
                result = step()
            result.numpy()
            runs.append((time.perf_counter() - start) / 20 * 1000)
        timings[name] = statistics.median(runs)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--only", nargs="+", type=int, default=None, metavar="I",
                        help="run only the configurations of these row numbers (0: the default)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.child == "products":
        print(json.dumps(first_layer_products()))
        return
    if args.child == HAND_WRITTEN:
        print(json.dumps(hand_written_step(args.epochs)))
        return
    if args.child:
        print(json.dumps(measure(args.child, args.epochs)))
        return

    def child(name: str) -> dict:
        output = subprocess.run([sys.executable, __file__, "--child", name, "--epochs", str(args.epochs)],
                                check=True, capture_output=True, text=True).stdout
        return json.loads(output.strip().splitlines()[-1])

    print(f"ssb-vae, 16 bits, batch 100, {args.epochs} epochs per configuration, {os.cpu_count()} cores")
    names = [*CONFIGS, HAND_WRITTEN]
    results = {name: child(name) for i, name in enumerate(names) if args.only is None or i in args.only}
    first = next(iter(results.values()))
    print(f"data: {first['source']}, {first['items']} items, {100 * first['nnz_fraction']:.2f}% non-zero\n")
    default = results[DEFAULT]["epoch_s"] if DEFAULT in results else float("nan")
    print(f"{'configuration':72s} {'s/epoch':>8s} {'ms/step':>8s} {'1st epoch':>9s} {'peak MB':>8s} "
          f"{'speed-up':>9s}")
    for name, r in results.items():
        print(f"{name:72s} {r['epoch_s']:8.2f} {r['step_ms']:8.1f} {r['first_epoch_s']:9.1f} "
              f"{r['peak_mb']:8.0f} {default / r['epoch_s']:8.2f}x")
    print("(speed-up: the default's s/epoch divided by the row's)")
    reference = 2.3 * first["items"] / 15000
    print(f"\nreference: the original Keras 2 code, about 2.3 s/epoch for 15,000 items "
          f"(≈ {reference:.2f} s for {first['items']}); default / reference = {default / reference:.2f}")
    if args.only is not None:
        return
    print("\nfirst layer alone (100 × 10,000 at 0.87% non-zero → 500), forward + weight gradient, ms:")
    for name, ms in child("products").items():
        print(f"  {name:42s} {ms:6.2f}")


if __name__ == "__main__":
    main()
