"""Serving functions and reference outputs shared by every exporter (public as ``zooft.*``).

The serving function (:func:`serving_function`) is what the SavedModel, TFLite and ONNX
exporters convert, so every format has the same input name and the same named outputs.
Outputs are a dict keyed by the model's output names (dict-output models keep their keys),
because positional outputs get renamed (``output_0``) and reordered (ONNX sorts by key) on the
way through the converters. TensorFlow is imported inside the functions that need it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ExportError
from .parity import Outputs, as_output_dict

def input_name(model: Any) -> str:
    """The model's input name, or ``image`` when Keras generated one (``keras_tensor_12``)."""
    name = str(model.inputs[0].name).split(":")[0]
    return "image" if name.startswith("keras_tensor") else name


def output_names(model: Any) -> list[str]:
    """Names of the model's outputs, in the order Keras returns positional outputs."""
    return [str(n) for n in model.output_names]


def reference_outputs(model: Any, samples: Any, batch_size: int = 32) -> Outputs:
    """The Keras model's outputs on ``samples``, as ``{name: array}`` (the parity reference)."""
    if model.inputs[0].shape[0] is not None:  # a fixed batch (the TFLite detection op's is 1)
        batch_size = int(model.inputs[0].shape[0])
    raw = model.predict(model_inputs(model, samples), batch_size=batch_size, verbose=0)
    return as_output_dict(raw, output_names(model))


def model_inputs(model: Any, samples: Any) -> np.ndarray:
    """``samples`` as the array the model takes: float32 images, or strings / token ids as they are."""
    dtype = str(model.inputs[0].dtype)
    if dtype == "string":
        return np.asarray(samples, dtype=object)
    if dtype.startswith(("int", "uint")) and dtype != "uint8":  # token ids (uint8 images stay float)
        return np.asarray(samples, dtype=dtype)
    return np.asarray(samples, dtype=np.float32)


def serving_function(model: Any, dtype: str = "float32") -> tuple[Any, list[Any]]:
    """``(fn, input_signature)``: raw images of ``dtype``, any batch size (unless the model fixes
    one, as the TFLite detection op's export model does) -> ``{name: tensor}``.

    Models taking strings or integer ids (text, see docs/text.md) keep their own input dtype.
    """
    import tensorflow as tf

    model_dtype_name = str(model.inputs[0].dtype)
    if model_dtype_name == "string" or (model_dtype_name.startswith("int") and dtype == "float32"):
        dtype = model_dtype_name

    if len(model.inputs) != 1:
        raise ExportError(
            f"model has {len(model.inputs)} inputs; the exporters handle single-input models for now",
            hint="export a model with one input (images)",
        )
    names = output_names(model)
    model_dtype = model.inputs[0].dtype
    shape = tuple(model.inputs[0].shape)  # batch None (any), unless the model fixes it
    spec = tf.TensorSpec(shape, tf.as_dtype(dtype), name=input_name(model))

    def serve(image: Any) -> dict[str, Any]:
        out = model(tf.cast(image, model_dtype), training=False)
        if isinstance(out, dict):
            return dict(out)
        if isinstance(out, (list, tuple)):
            return dict(zip(names, out))
        return {names[0]: out}

    return serve, [spec]


def is_image_model(model: Any) -> bool:
    """True for a single ``(None, h, w, 3)`` input: those also get a uint8 signature."""
    shape = tuple(model.inputs[0].shape)
    return len(model.inputs) == 1 and len(shape) == 4 and shape[-1] == 3


def write_saved_model(model: Any, out_dir: Path, *, uint8: bool = True) -> Path:
    """Write ``model`` as a SavedModel at ``out_dir``; returns ``out_dir``.

    ``serving_default`` takes float32 0–255; ``serving_uint8`` (image models, when ``uint8``)
    takes decoded pixels as they come from an image decoder. Both accept any batch size.
    """
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    fn, signature = serving_function(model, "float32")
    archive.add_endpoint("serving_default", fn, input_signature=signature)
    if uint8 and is_image_model(model):
        fn8, signature8 = serving_function(model, "uint8")
        archive.add_endpoint("serving_uint8", fn8, input_signature=signature8)
    archive.write_out(str(out_dir), verbose=False)
    return out_dir
