"""Convert a Keras 3 model to TFLite (LiteRT), embed zooft's metadata, and verify it.

Conversion always goes Keras -> SavedModel (:func:`zooft_savedmodel.exporter.write_saved_model`)
-> ``TFLiteConverter.from_saved_model``: ``from_concrete_functions`` does not freeze Keras 3
variables and silently yields a model that outputs NaN (docs/export.md, FACTS.md).

Quantization modes (``quantize``):

- ``none``: float32, bit-for-bit the same maths up to kernel rounding.
- ``float16``: weights stored as float16, computed in float32 (half the size).
- ``dynamic``: int8 weights, float activations ("dynamic range"); no calibration data.
- ``int8``: int8 weights and activations calibrated on ``context.calibration``; float32 input
  and output, with float kernels kept for any op that has no int8 kernel.
- ``int8-full``: integer only (``TFLITE_BUILTINS_INT8``; conversion fails rather than fall back),
  with int8 or uint8 (``io_type``) input and output, for integer-only accelerators (Edge TPU,
  NPUs, microcontrollers). Callers quantize inputs / dequantize outputs with the tensor's
  scale and zero point; :mod:`zooft.artifacts` does it for them.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import zooft
from zooft import parity
from zooft.artifacts import METADATA_KEY, load_artifact, tflite_interpreter
from zooft_savedmodel.exporter import reference_outputs, write_saved_model

from .plugin import IO_TYPES, QUANTIZE_MODES

# Parity gates per mode (docs/export.md explains each). Float modes gate the largest probability
# difference; quantized modes change individual probabilities by design (int8 outputs move in
# steps of 1/256), so they gate what users see: no real accuracy loss on the labelled parity
# samples, and the same top-1 class wherever the Keras model is confident (top-1 ahead of the
# runner-up by zooft.parity.CONFIDENT_MARGIN). Plain agreement is reported, not gated: on a
# low-confidence model it flips on near-ties while accuracy holds. A broken export (bad
# calibration, saturated activations, wrong weights) changes confident answers and accuracy.
GATES: dict[str, dict[str, float]] = {
    "none": {"max_abs": 1e-4},
    "float16": {"max_abs": 0.02, "confident_top1_agreement": 0.98},
    "dynamic": {"confident_top1_agreement": 0.95, "accuracy_drop": 0.03},
    "int8": {"confident_top1_agreement": 0.95, "accuracy_drop": 0.03},
    "int8-full": {"confident_top1_agreement": 0.95, "accuracy_drop": 0.03},
}
MODEL_FILE = "model.tflite"


def parse_options(options: dict[str, Any]) -> tuple[str, str | None]:
    """``(quantize, io_type)`` from the user's options, with combinations checked."""
    mode = options.get("quantize") or "none"
    io_type = options.get("io_type")
    if mode not in QUANTIZE_MODES:
        raise zooft.ConfigError(f"tflite quantize={mode!r} is not valid; allowed: {', '.join(QUANTIZE_MODES)}")
    if io_type is not None and mode != "int8-full":
        raise zooft.ConfigError(
            f"tflite io_type={io_type!r} applies only to quantize=int8-full (got quantize={mode!r})",
            hint="drop io_type, or use quantize=int8-full",
        )
    if mode == "int8-full":
        io_type = io_type or "int8"
        if io_type not in IO_TYPES:
            raise zooft.ConfigError(f"tflite io_type={io_type!r} is not valid; allowed: {', '.join(IO_TYPES)}")
    return mode, io_type


def convert(model: Any, mode: str, io_type: str | None, calibration: Any, workdir: Path) -> bytes:
    """The .tflite flatbuffer for ``model`` in ``mode`` (SavedModel written under ``workdir``)."""
    import tensorflow as tf

    saved = write_saved_model(model, workdir / "saved_model", uint8=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=["serving_default"])
    if mode != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode in ("int8", "int8-full"):
        if calibration is None or len(calibration) == 0:
            raise zooft.ExportError(
                f"quantize={mode} needs calibration images, and the run has no training examples",
                hint="use quantize=dynamic or float16, which need no calibration data",
            )
        images = np.asarray(calibration)  # float32 images, or int32 token ids (text)
        images = images if images.dtype.kind == "i" else images.astype(np.float32)
        converter.representative_dataset = lambda: ([images[i : i + 1]] for i in range(len(images)))
    if mode == "int8-full":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.as_dtype(io_type)
    return bytes(converter.convert())


def describe_io(flatbuffer: bytes) -> dict[str, Any]:
    """Input/output names, dtypes and quantization (scale, zero point) of a converted model."""
    interpreter_cls, _ = tflite_interpreter()
    runner = interpreter_cls(model_content=flatbuffer).get_signature_runner("serving_default")

    def view(details: dict[str, Any]) -> dict[str, Any]:
        return {
            name: {"dtype": np.dtype(d["dtype"]).name, "quantization": [float(d["quantization"][0]), int(d["quantization"][1])]}
            for name, d in details.items()
        }

    return {"inputs": view(runner.get_input_details()), "outputs": view(runner.get_output_details())}


def embed_metadata(flatbuffer: bytes, metadata: dict[str, Any]) -> bytes:
    """``flatbuffer`` with ``metadata`` (JSON) added as the model metadata entry ``zooft_metadata``.

    Uses the TFLite schema's generated Python object API shipped in ai-edge-litert (no
    tflite-support needed): unpack, append a buffer and a ``Metadata`` entry, repack. The
    runtime ignores metadata it does not know; :func:`zooft.artifacts.read_tflite_metadata`
    reads it back.
    """
    import flatbuffers

    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:  # the same generated schema ships inside TensorFlow
        from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(flatbuffer, 0))
    if any(b.offset for b in model.buffers or []):  # >2 GB models keep tensors after the flatbuffer
        raise zooft.ExportError("cannot embed metadata in a TFLite model with external buffers (> 2 GB)")
    payload = schema.BufferT()
    payload.data = np.frombuffer(json.dumps(metadata, default=str).encode("utf-8"), dtype=np.uint8)
    model.buffers.append(payload)
    entry = schema.MetadataT()
    entry.name, entry.buffer = METADATA_KEY, len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name != METADATA_KEY.encode()] + [entry]
    builder = flatbuffers.Builder(len(flatbuffer) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


class TFLiteExporter:
    """The ``tflite`` format: ``model.tflite`` (metadata embedded) plus ``labels.txt``."""

    def export(self, context: zooft.ExportContext, out_dir: Path) -> Path:
        """Convert, describe the quantized I/O in the metadata, embed it, write the sidecars."""
        mode, io_type = parse_options(context.options)
        # the intermediate SavedModel lives inside out_dir, so a failure cleans it up with it
        with tempfile.TemporaryDirectory(dir=out_dir, prefix=".convert-") as work:
            flatbuffer = convert(context.model, mode, io_type, context.calibration, Path(work))
        context.metadata.update(format="tflite", quantize=mode, io_type=io_type, tensors=describe_io(flatbuffer))
        context.metadata["metadata_embedded"] = METADATA_KEY
        flatbuffer = embed_metadata(flatbuffer, context.metadata)
        path = out_dir / MODEL_FILE
        path.write_bytes(flatbuffer)
        (out_dir / "labels.txt").write_text("".join(f"{c}\n" for c in context.classes), encoding="utf-8")
        return path

    def verify(self, context: zooft.ExportContext, artifact: Path) -> zooft.ParityReport:
        """Run the .tflite in LiteRT (batched, quantizing I/O as needed) against the Keras model."""
        mode, io_type = parse_options(context.options)
        loaded = load_artifact(artifact)
        candidate = loaded.outputs(context.samples)
        return parity.build_report(
            "tflite",
            reference_outputs(context.model, context.samples),
            candidate,
            task=context.parity_task,
            gates=GATES[mode],
            labels=context.sample_labels,
            targets=context.sample_targets,
            classes=context.classes,
            tolerance=context.tolerance,
            extra={"runtime": loaded.runtime, "quantize": mode, "io_type": io_type},
            quantize=mode,
        )
