"""Convert a Keras 3 model to ONNX with tf2onnx and verify it with onnxruntime.

We convert the same serving function the SavedModel and TFLite exporters use
(:func:`zooft_savedmodel.exporter.serving_function`) with ``tf2onnx.convert.from_function``:
it works on Keras 3 models (their variables are captured and frozen), and the function gives us
the input name (``image``) and output names (dict keys) instead of ``keras_tensor`` / position.
onnxruntime returns outputs in the graph's order, which for dict outputs is sorted by key, so
everything downstream looks outputs up by name.

``input_type=uint8`` (image models) makes the graph take decoded pixels, ``(batch, h, w, 3)``
uint8, and cast them to float inside, so a client feeds the image its decoder returned. Parity
then runs on the samples rounded to uint8, against the Keras model on the same rounded pixels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

import zooft
from zooft import parity
from zooft.artifacts import METADATA_KEY, load_artifact
from zooft_savedmodel.exporter import is_image_model, output_names, reference_outputs, serving_function

from .plugin import INPUT_TYPES

# Different runtime, different kernels (and operator fusions): allow float32 reordering noise,
# far below anything that changes a probability a user would read.
GATES: dict[str, float] = {"max_abs": 1e-4}
DEFAULT_OPSET = 17
SUPPORTED_OPSETS = range(13, 19)  # tf2onnx 1.17 knows opsets up to 18
MODEL_FILE = "model.onnx"
# metadata_props keys copied individually (as strings / JSON) for tools that read one key
PROPS = ("labels", "task", "input_size", "preprocessing", "source_model", "zooft_version")


def parse_opset(value: Any) -> int:
    """The opset to target: an integer in :data:`SUPPORTED_OPSETS` (default 17)."""
    if value is None:
        return DEFAULT_OPSET
    try:
        opset = int(value)
    except (TypeError, ValueError):
        opset = -1
    if opset not in SUPPORTED_OPSETS:
        raise zooft.ConfigError(
            f"onnx opset={value!r} is not valid; allowed: {SUPPORTED_OPSETS.start}-{SUPPORTED_OPSETS.stop - 1}",
            hint=f"omit it for the default ({DEFAULT_OPSET})",
        )
    return opset


def parse_input_type(value: Any, model: Any) -> str:
    """``float32`` (default) or ``uint8``; uint8 only for a single-image-input model."""
    input_type = str(value or INPUT_TYPES[0])
    if input_type not in INPUT_TYPES:
        raise zooft.ConfigError(f"onnx input_type={value!r} is not valid; allowed: {', '.join(INPUT_TYPES)}")
    if input_type == "uint8" and not is_image_model(model):
        raise zooft.ConfigError(
            f"onnx input_type=uint8 needs a model with one (h, w, 3) image input; this one takes {model.inputs[0].dtype}"
            f" {tuple(model.inputs[0].shape)}",
            hint="drop input_type: non-image models keep their own input dtype",
        )
    return input_type


def _name_batch_dims(graph: Any) -> None:
    """tf2onnx names the unknown batch dimension ``unk__12``; call it ``batch`` for readers."""
    for value in list(graph.input) + list(graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and dims[0].dim_param:
            dims[0].dim_param = "batch"


def convert(model: Any, opset: int, input_type: str = "float32") -> Any:
    """The ONNX ``ModelProto`` of ``model``'s serving function (``input_type`` images, dynamic batch)."""
    import tensorflow as tf
    import tf2onnx

    fn, signature = serving_function(model, input_type)
    function = tf.function(fn, input_signature=signature)
    proto, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=opset)
    _name_batch_dims(proto.graph)
    return proto


def set_metadata(proto: Any, metadata: dict[str, Any]) -> None:
    """Store ``metadata`` in ``metadata_props``: all of it as JSON, plus the common keys one by one."""
    entries = {METADATA_KEY: json.dumps(metadata, default=str)}
    for key in PROPS:
        if metadata.get(key) is not None:
            value = metadata[key]
            entries[key] = value if isinstance(value, str) else json.dumps(value, default=str)
    del proto.metadata_props[:]
    for key, value in entries.items():
        prop = proto.metadata_props.add()
        prop.key, prop.value = key, value
    proto.doc_string = f"zooft export of run {metadata.get('run', '?')} ({metadata.get('source_model', '?')})"


class OnnxExporter:
    """The ``onnx`` format: ``model.onnx`` with metadata in ``metadata_props``."""

    def export(self, context: zooft.ExportContext, out_dir: Path) -> Path:
        """Convert, check the graph with ``onnx.checker``, attach metadata, save."""
        import onnx

        opset = parse_opset(context.options.get("opset"))
        input_type = parse_input_type(context.options.get("input_type"), context.model)
        proto = convert(context.model, opset, input_type)
        context.metadata.update(format="onnx", opset=opset, outputs=output_names(context.model))
        if input_type == "uint8":
            context.metadata.update(input_dtype="uint8", input_type="uint8")
        set_metadata(proto, context.metadata)
        onnx.checker.check_model(proto)
        path = out_dir / MODEL_FILE
        onnx.save(proto, str(path))
        return path

    def verify(self, context: zooft.ExportContext, artifact: Path) -> zooft.ParityReport:
        """Run the model in onnxruntime (CPU) and compare with the Keras model."""
        input_type = parse_input_type(context.options.get("input_type"), context.model)
        samples = context.samples
        if input_type == "uint8":  # what a client feeds: decoded pixels (resized samples are rounded)
            samples = np.clip(np.round(np.asarray(samples, dtype=np.float32)), 0, 255)
        loaded = load_artifact(artifact)
        candidate = loaded.outputs(samples)
        return parity.build_report(
            "onnx",
            reference_outputs(context.model, samples),
            candidate,
            task=context.parity_task,
            gates=GATES,
            labels=context.sample_labels,
            targets=context.sample_targets,
            classes=context.classes,
            tolerance=context.tolerance,
            extra={"runtime": loaded.runtime, "opset": parse_opset(context.options.get("opset")), "input_type": input_type},
        )
