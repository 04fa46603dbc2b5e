"""Write a Keras 3 model as a SavedModel with raw-image serving signatures, and verify it.

The serving function defined here (:func:`serving_function`) is also what the TFLite and ONNX
exporters convert, so every format has the same input name and the same named outputs.
Outputs are a dict keyed by the model's output names (dict-output models keep their keys),
because positional outputs get renamed (``output_0``) and reordered (ONNX sorts by key) on the
way through the converters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

import zooft
from zooft import parity
from zooft.artifacts import METADATA_FILE, SAVEDMODEL_DIR, load_artifact

# Same runtime (TensorFlow), same kernels: anything beyond float noise is a bug.
GATES: dict[str, float] = {"max_abs": 1e-5, "uint8_max_abs": 1e-5}


def input_name(model: Any) -> str:
    """The model's input name, or ``image`` when Keras generated one (``keras_tensor_12``)."""
    name = str(model.inputs[0].name).split(":")[0]
    return "image" if name.startswith("keras_tensor") else name


def output_names(model: Any) -> list[str]:
    """Names of the model's outputs, in the order Keras returns positional outputs."""
    return [str(n) for n in model.output_names]


def reference_outputs(model: Any, samples: Any, batch_size: int = 32) -> parity.Outputs:
    """The Keras model's outputs on ``samples``, as ``{name: array}`` (the parity reference)."""
    if model.inputs[0].shape[0] is not None:  # a fixed batch (the TFLite detection op's is 1)
        batch_size = int(model.inputs[0].shape[0])
    raw = model.predict(model_inputs(model, samples), batch_size=batch_size, verbose=0)
    return parity.as_output_dict(raw, output_names(model))


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
    one) -> ``{name: tensor}``.

    Models taking strings or integer ids (text, see docs/text.md) keep their own input dtype.
    """
    import tensorflow as tf

    model_dtype_name = str(model.inputs[0].dtype)
    if model_dtype_name == "string" or (model_dtype_name.startswith("int") and dtype == "float32"):
        dtype = model_dtype_name

    if len(model.inputs) != 1:
        raise zooft.ExportError(
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


class SavedModelExporter:
    """The ``savedmodel`` format: ``exports/savedmodel/saved_model/`` plus sidecars."""

    def export(self, context: zooft.ExportContext, out_dir: Path) -> Path:
        """Write ``out_dir/saved_model`` with metadata in its ``assets.extra/`` (TF Serving's place)."""
        target = write_saved_model(context.model, out_dir / SAVEDMODEL_DIR)
        signatures = ["serving_default"] + (["serving_uint8"] if is_image_model(context.model) else [])
        context.metadata.update(format="savedmodel", signatures=signatures, outputs=output_names(context.model))
        extra = target / "assets.extra"
        extra.mkdir(exist_ok=True)
        (extra / METADATA_FILE).write_text(json.dumps(context.metadata, indent=2, default=str) + "\n", encoding="utf-8")
        (extra / "labels.txt").write_text("".join(f"{c}\n" for c in context.classes), encoding="utf-8")
        return target

    def verify(self, context: zooft.ExportContext, artifact: Path) -> zooft.ParityReport:
        """Reload with ``tf.saved_model.load`` and compare both signatures with the Keras model."""
        reference = reference_outputs(context.model, context.samples)
        loaded = load_artifact(artifact)
        candidate = loaded.outputs(context.samples)
        extra: dict[str, Any] = {"runtime": loaded.runtime, "signature": "serving_default"}
        if is_image_model(context.model):
            # uint8 inputs are the float samples rounded: decoded pixels are integers already, so
            # this compares the same images unless a sample was resized to fractional values
            pixels = np.clip(np.round(np.asarray(context.samples, dtype=np.float32)), 0, 255)
            ref8 = reference if np.array_equal(pixels, context.samples) else reference_outputs(context.model, pixels)
            cand8 = load_artifact(artifact, signature="serving_uint8").outputs(pixels)
            extra["uint8_max_abs"] = parity.numeric_metrics(ref8, cand8)["max_abs"]
        return parity.build_report(
            "savedmodel",
            reference,
            candidate,
            task=context.parity_task,
            gates=GATES,
            labels=context.sample_labels,
            targets=context.sample_targets,
            classes=context.classes,
            tolerance=context.tolerance,
            extra=extra,
        )
