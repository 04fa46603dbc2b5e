"""A tiny hub model made by the tests themselves, and a loopback HTTP server to fetch it from.

The model is a small CNN with BatchNorm, written as a TF2 reusable SavedModel (the TF Hub
format: ``__call__(images, training)`` traced for both values, ``variables``,
``trainable_variables``, ``regularization_losses``) by :mod:`zooft_hub.savedmodel`, packed as a
.tar.gz and served by ``http.server`` on 127.0.0.1 from a thread (loopback.py). Nothing leaves the machine.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

from loopback import serve  # noqa: F401 - re-exported: tests and scripts/bench/hub_vs_keras.py use hf.serve

SIZE = 32


def tiny_cnn(seed: int = 0, size: int = SIZE) -> Any:
    """Image (0–1 floats) -> 3 conv blocks with BatchNorm -> pooled 32-d vector."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3), name="images")
    x = inputs
    for i, width in enumerate((8, 16, 32)):
        x = keras.layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False, name=f"block{i}_conv")(x)
        x = keras.layers.BatchNormalization(name=f"block{i}_bn")(x)
        x = keras.layers.ReLU(name=f"block{i}_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, x, name="tiny_cnn")


def write_hub_model(directory: Path, seed: int = 0) -> Path:
    """Save :func:`tiny_cnn` as a reusable SavedModel in ``directory``."""
    from zooft_hub.savedmodel import save_reusable_savedmodel

    return save_reusable_savedmodel(tiny_cnn(seed), directory)


def bad_archive(path: Path, kind: str) -> Path:
    """A .tar.gz that must be refused: ``traversal``, ``absolute``, ``link`` or ``not-savedmodel``."""
    with tarfile.open(path, "w:gz") as tar:
        def add(name: str, data: bytes = b"x", **fields: Any) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            for key, value in fields.items():
                setattr(info, key, value)
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)

        add("saved_model.pb", b"\x00")
        if kind == "traversal":
            add("../escaped.txt")
        elif kind == "absolute":
            add("/tmp/zooft-escaped.txt")
        elif kind == "link":
            add("variables", type=tarfile.SYMTYPE, linkname="../../../etc", size=0)
        elif kind == "not-savedmodel":
            pass
        else:
            raise ValueError(kind)
    if kind == "not-savedmodel":  # rewrite without the saved_model.pb
        with tarfile.open(path, "w:gz") as tar:
            info = tarfile.TarInfo("README.txt")
            info.size = 5
            tar.addfile(info, io.BytesIO(b"hello"))
    return path


