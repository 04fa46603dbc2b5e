"""A fake-but-real run directory for the exporter tests: a small CNN, properly trained.

"Properly" matters: a model with barely-trained BatchNorm outputs near-constant probabilities,
and then every quantization "agrees" with it (docs/export.md). This one uses BN momentum 0.9 and
~250 Adam steps on a learnable 4-class task (stripe orientation / checkerboard under random
colours, frequency, phase and noise) and reaches ~99 % held-out accuracy with varied confidence.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from zooft import LabeledData
from zooft.data.records import Example
from zooft.runs import data_to_json

CLASSES = ["horizontal", "vertical", "diagonal", "checker"]
SIZE = 32
SPLITS = {"train": 1600, "val": 64, "test": 200}


def make_images(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 images ``(n, 32, 32, 3)`` and their class indices."""
    labels = rng.integers(0, len(CLASSES), n)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    images = np.empty((n, SIZE, SIZE, 3), dtype=np.uint8)
    for i, label in enumerate(labels):
        freq, phase = rng.uniform(0.25, 0.6), rng.uniform(0, 2 * np.pi)
        pattern = {
            0: np.sin(freq * yy + phase),
            1: np.sin(freq * xx + phase),
            2: np.sin(freq * (xx + yy) / np.sqrt(2) + phase),
            3: np.sin(freq * xx + phase) * np.sin(freq * yy + phase),
        }[int(label)]
        mask = (pattern > 0).astype(np.float32)[..., None]
        fg, bg = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        img = mask * fg + (1 - mask) * bg + rng.normal(0, 25, (SIZE, SIZE, 3))
        images[i] = np.clip(np.round(img), 0, 255).astype(np.uint8)
    return images, labels


def build_model(num_classes: int) -> Any:
    """Rescaling -> 4 x (Conv/BN/ReLU) -> GAP -> Dense softmax; ~99k parameters."""
    import keras

    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    for filters, stride in ((16, 2), (32, 1), (64, 2), (128, 1)):
        x = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="tiny_classifier")


def write_run(root: Path) -> dict[str, Any]:
    """Train the model and write a complete run directory at ``root``; returns test arrays."""
    import keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    data: dict[str, tuple[np.ndarray, np.ndarray]] = {split: make_images(n, rng) for split, n in SPLITS.items()}
    splits: dict[str, list[Example]] = {}
    for split, (images, labels) in data.items():
        folder = root.parent / f"{root.name}-data" / split
        folder.mkdir(parents=True)
        splits[split] = []
        for i, (img, label) in enumerate(zip(images, labels)):
            path = folder / f"{i:05d}.png"
            Image.fromarray(img).save(path)
            splits[split].append(Example(str(path), int(label)))

    model = build_model(len(CLASSES))
    model.compile(keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x_train, y_train = data["train"]
    model.fit(x_train.astype(np.float32), y_train, batch_size=32, epochs=5, verbose=0)
    x_test, y_test = data["test"]
    probs = model.predict(x_test.astype(np.float32), verbose=0)

    root.mkdir(parents=True)
    model.save(root / "model.keras")
    config = {
        "values": {"task": "classify", "image_size": [SIZE, SIZE], "backbone": "test:tiny"},
        "backbone_spec": {"name": "test:tiny", "source": "test", "preprocessing": {"mode": "unit"}},
    }
    (root / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (root / "labels.json").write_text(json.dumps({"classes": CLASSES}), encoding="utf-8")
    labeled = LabeledData(classes=CLASSES, splits=splits, format="test", root=str(root.parent))
    (root / "data.json").write_text(json.dumps(data_to_json(labeled)), encoding="utf-8")
    return {"x_test": x_test.astype(np.float32), "y_test": y_test, "accuracy": float(np.mean(probs.argmax(1) == y_test)),
            "confidence_p5": float(np.percentile(probs.max(1), 5)), "params": model.count_params()}


def copy_run(src: Path, dst: Path) -> Path:
    """A copy of a run without its exports (for tests that break or replace exports)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("exports"))
    return dst
