"""Write a Keras model as a TF2 *reusable SavedModel* (the TF Hub format), and pack it as .tar.gz.

This is what a hub model is: a SavedModel whose root object has ``__call__(images,
training=False)`` traced for both values of ``training``, and the lists ``variables``,
``trainable_variables`` and ``regularization_losses``
(https://www.tensorflow.org/hub/reusable_saved_models). zooft's tests and benchmarks use it to
turn a known Keras network into a hub model and serve it over loopback HTTP, so the whole hub
path (download, cache, fine-tuning, export) runs offline on a network whose Keras twin is known.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path
from typing import Any


def save_reusable_savedmodel(
    model: Any, path: str | os.PathLike[str], *, input_scale: float = 1.0, output: str | None = None
) -> Path:
    """Save ``model`` (Keras 3, image batch in, features out) as a reusable SavedModel.

    :param input_scale: the hub model takes images in [0, 1] (the TF Hub image convention) and
        multiplies them by this before calling ``model`` (255.0 for a model that takes 0–255).
    :param output: for a dict-output model, the key whose tensor becomes the output.
    """
    import tensorflow as tf

    height, width, channels = model.input_shape[1:]

    def forward(images: Any, training: bool) -> Any:
        out = model(images * input_scale, training=training)
        return out[output] if output is not None else out

    call = tf.function(forward)
    spec = tf.TensorSpec([None, height, width, channels], tf.float32, name="images")
    for training in (False, True):  # both traced: hub callers choose at call time
        call.get_concrete_function(spec, training)
    root = tf.train.Checkpoint()
    # The underlying tf.Variables (Keras 3 variables wrap them as .value).
    root.variables = [v.value for v in model.variables]
    root.trainable_variables = [v.value for v in model.trainable_variables]
    root.regularization_losses = []
    root.__call__ = call
    serving = tf.function(lambda images: {"feature_vector": forward(images, False)})
    tf.saved_model.save(root, str(path), signatures={"serving_default": serving.get_concrete_function(spec)})
    return Path(path)


def pack(directory: str | os.PathLike[str], archive: str | os.PathLike[str]) -> Path:
    """``tar -czf ARCHIVE -C DIRECTORY .``: the layout TF Hub archives have (SavedModel at the top)."""
    directory, archive = Path(directory), Path(archive)
    with tarfile.open(archive, "w:gz") as tar:
        for item in sorted(directory.rglob("*")):
            tar.add(item, arcname=str(item.relative_to(directory)), recursive=False)
    return archive
