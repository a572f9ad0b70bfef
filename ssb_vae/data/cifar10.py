"""CIFAR-10 as 512-d VGG16 features (docs/method.md §5), and the command that computes them.

The features file holds one row per image in the order of ``keras.datasets.cifar10``: the 50,000
training images, then the 10,000 test images. Compute it with
``python -m ssb_vae.data.cifar10 --out data/`` (downloads CIFAR-10 and the ImageNet weights).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ssb_vae.data.cache import cache_key, cached
from ssb_vae.data.core import SPLIT_SEED, Dataset, Split
from ssb_vae.data.sources import find_source
from ssb_vae.files import replacing

FEATURES = "cifar10_vgg16_features.npy"
LABELS = "cifar10_labels.npy"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TEST_PER_CLASS = 100
VALIDATION_SIZE = 1000
HOW_TO_GET = f"Compute {FEATURES} and {LABELS} with `python -m ssb_vae.data.cifar10 --out DIR`."


def vgg16_features(images: np.ndarray, weights: str | None = "imagenet", batch_size: int = 100) -> np.ndarray:
    """Global-average-pooled VGG16 features (n × 512) of uint8 RGB images (n × H × W × 3)."""
    from ssb_vae.backend import keras

    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be an (n, height, width, 3) RGB array, got shape {images.shape}")
    network = keras.applications.VGG16(
        weights=weights, include_top=False, pooling="avg", input_shape=images.shape[1:]
    )
    inputs = keras.applications.vgg16.preprocess_input(images.astype(np.float32))
    return network.predict(inputs, batch_size=batch_size, verbose=0).astype(np.float32)


def write_features(images: np.ndarray, labels: np.ndarray, out_dir, weights: str | None = "imagenet") -> Path:
    """Writes the features and labels files the loader reads; returns the features path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    features = vgg16_features(images, weights=weights)
    for path, array in ((out_dir / LABELS, np.asarray(labels).reshape(-1).astype(np.int64)),
                        (out_dir / FEATURES, features)):
        with replacing(path, suffix=".npy") as temporary:
            np.save(temporary, array)
    return out_dir / FEATURES


def _dataset(features_path: Path, labels_path: Path) -> Dataset:
    features = np.load(features_path, allow_pickle=False).astype(np.float32)
    labels = np.load(labels_path, allow_pickle=False).reshape(-1).astype(np.int64)
    if features.ndim != 2 or features.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{features_path.name} has shape {features.shape} but {labels_path.name} has "
            f"{labels.shape[0]} labels: they must have one row per image"
        )
    rng = np.random.default_rng(SPLIT_SEED)
    test_rows = np.concatenate([
        rng.choice(np.flatnonzero(labels == c), TEST_PER_CLASS, replace=False) for c in np.unique(labels)
    ])
    rest = rng.permutation(np.setdiff1d(np.arange(len(labels)), test_rows))
    parts = [rest[VALIDATION_SIZE:], rest[:VALIDATION_SIZE], rng.permutation(test_rows)]  # random order
    mean = features[parts[0]].mean(axis=0)
    std = features[parts[0]].std(axis=0)
    standardized = (features - mean) / np.where(std > 0, std, 1.0)
    splits = [Split(standardized[rows], standardized[rows], labels[rows]) for rows in parts]
    return Dataset("cifar10", *splits, classes=CLASSES, multilabel=False)


def load(data_dir, cache_dir: Path | None) -> Dataset:
    """Features standardized with the training mean/std; target = x; test = 100 per class."""
    features_path = find_source(data_dir, [FEATURES], "cifar10", HOW_TO_GET)
    labels_path = find_source(data_dir, [LABELS], "cifar10", HOW_TO_GET)
    key = cache_key("cifar10", [features_path, labels_path], {"test_per_class": TEST_PER_CLASS})
    return cached(cache_dir, key, lambda: _dataset(features_path, labels_path))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Compute the VGG16 features of CIFAR-10 for ssb_vae.")
    parser.add_argument("--out", default="data", help="folder for the two .npy files (default: data)")
    args = parser.parse_args(argv)
    from ssb_vae.backend import keras

    (train_images, train_labels), (test_images, test_labels) = keras.datasets.cifar10.load_data()
    images = np.concatenate([train_images, test_images])
    labels = np.concatenate([train_labels, test_labels])
    print(f"wrote {write_features(images, labels, args.out)}")


if __name__ == "__main__":
    main()
