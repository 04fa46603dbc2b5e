"""Convert a Keras 3 model to TFLite (LiteRT), embed zooft's metadata, and verify it.

Conversion always goes Keras -> SavedModel (:func:`zooft.write_saved_model`)
-> ``TFLiteConverter.from_saved_model``: ``from_concrete_functions`` does not freeze Keras 3
variables and silently yields a model that outputs NaN (docs/export.md).

Quantization modes (``quantize``):

- ``none``: float32, bit-for-bit the same maths up to kernel rounding.
- ``float16``: weights stored as float16, computed in float32 (half the size).
- ``dynamic``: int8 weights, float activations ("dynamic range"); no calibration data.
- ``int8``: int8 weights and activations calibrated on ``context.calibration``; float32 input
  and output, with float kernels kept for any op that has no int8 kernel.
- ``int8-full``: integer only (``TFLITE_BUILTINS_INT8``; conversion fails rather than fall back),
  for integer-only accelerators (Edge TPU, NPUs, microcontrollers). ``io_type``: ``uint8``
  (default: what MediaPipe Tasks and the TFLite Task Library accept, and what TFLite Model Maker
  produced), ``int8``, or ``float32`` (a quantize / dequantize op at each end of the integer
  body). Callers quantize inputs / dequantize outputs with the tensor's scale and zero point;
  :func:`zooft.load_artifact` does it for them.

Text models (the text task's ``export_model``) take token ids; with ``text_inputs=bert`` they take
BERT's three inputs instead (:mod:`zooft_tflite.multi_input` converts and runs those).

Every export also carries the standard ``TFLITE_METADATA`` (:mod:`zooft_tflite.metadata`,
chosen by :mod:`zooft_tflite.standard`) next to zooft's own JSON.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import zooft
from zooft import ARTIFACT_METADATA_KEY as METADATA_KEY
from zooft import build_parity_report, load_artifact, reference_outputs, tflite_interpreter, write_saved_model

from .options import IO_TYPES, QUANTIZE_MODES

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
        io_type = io_type or IO_TYPES[0]
        if io_type not in IO_TYPES:
            raise zooft.ConfigError(f"tflite io_type={io_type!r} is not valid; allowed: {', '.join(IO_TYPES)}")
    return mode, io_type


def custom_op_codes(flatbuffer: bytes) -> list[str]:
    """Names of the custom ops a converted model uses."""
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAs(flatbuffer, 0)
    codes = (model.OperatorCodes(i).CustomCode() for i in range(model.OperatorCodesLength()))
    return sorted({c.decode() for c in codes if c})


def convert(
    model: Any, mode: str, io_type: str | None, calibration: Any, workdir: Path, custom_ops: list[str] | None = None
) -> bytes:
    """The .tflite flatbuffer for ``model`` in ``mode`` (SavedModel written under ``workdir``).

    ``custom_ops``: custom ops the model is meant to carry (the task's ``export_model`` lists them in
    ``metadata["tflite_custom_ops"]``, e.g. ``TFLite_Detection_PostProcess``); the converter may
    emit those and no others. Their outputs stay float32 under ``int8-full`` (the detection op's are).
    """
    import tensorflow as tf

    if len(model.inputs) > 1:
        from . import multi_input

        if mode in ("int8", "int8-full"):
            raise zooft.ConfigError(f"tflite quantize={mode} is not supported for a model with {len(model.inputs)} inputs",
                                    hint="use quantize=none, float16 or dynamic")
        saved = multi_input.write_saved_model(model, workdir / "saved_model")
    else:
        saved = write_saved_model(model, workdir / "saved_model", uint8=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=["serving_default"])
    converter.allow_custom_ops = bool(custom_ops)
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
        if io_type != "float32":  # float32: the converter's default float interface stays
            converter.inference_input_type = converter.inference_output_type = tf.as_dtype(io_type)
            if custom_ops:  # a custom op's outputs stay float (the detection op's are float32)
                converter.inference_output_type = tf.float32
    flatbuffer = bytes(converter.convert())
    unexpected = sorted(set(custom_op_codes(flatbuffer)) - set(custom_ops or ()))
    if unexpected:  # allow_custom_ops turns any op TFLite lacks into a custom op no runtime has
        raise zooft.ExportError(
            f"the TFLite model needs custom op(s) {', '.join(unexpected)} that no TFLite runtime provides",
            hint="the model uses TensorFlow ops TFLite has no kernel for; export it as savedmodel or onnx",
        )
    return flatbuffer


def describe_io(flatbuffer: bytes) -> dict[str, Any]:
    """Input/output names, dtypes and quantization (scale, zero point) of a converted model."""
    interpreter_cls, _ = tflite_interpreter()
    runner = interpreter_cls(model_content=flatbuffer).get_signature_runner("serving_default")

    def view(details: dict[str, Any]) -> dict[str, Any]:
        return {
            name: {"dtype": np.dtype(d["dtype"]).name, "shape": [int(v) for v in d["shape"]],
                   "quantization": [float(d["quantization"][0]), int(d["quantization"][1])]}
            for name, d in details.items()
        }

    return {"inputs": view(runner.get_input_details()), "outputs": view(runner.get_output_details())}


def order_outputs_by_name(flatbuffer: bytes) -> bytes:
    """``flatbuffer`` with the subgraph's outputs in the sorted order of their signature names.

    The converter orders the outputs of a multi-output model its own way (the detection op's come
    out as count, boxes, classes, scores); clients that read outputs by position (the TF OD API's
    app samples, older Task Library releases) expect ``detection_boxes``, ``detection_classes``,
    ``detection_scores``, ``num_detections``, which sorted names give. Signature lookups by name
    are unaffected; a model whose outputs are already in that order is returned unchanged.
    """
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        from tensorflow.lite.python import schema_py_generated as schema

    root = schema.Model.GetRootAs(flatbuffer, 0)
    if root.SignatureDefsLength() != 1 or root.SubgraphsLength() != 1:
        return flatbuffer
    sig, subgraph = root.SignatureDefs(0), root.Subgraphs(0)
    by_name = sorted((sig.Outputs(i).Name().decode(), sig.Outputs(i).TensorIndex()) for i in range(sig.OutputsLength()))
    current = [int(i) for i in subgraph.OutputsAsNumpy()] if subgraph.OutputsLength() else []
    wanted = [index for _, index in by_name]
    if wanted == current or sorted(wanted) != sorted(current):
        return flatbuffer
    model = schema.ModelT.InitFromObj(root)
    if any(b.offset for b in model.buffers or []):  # >2 GB models: leave them as converted
        return flatbuffer
    model.subgraphs[0].outputs = np.asarray(wanted, dtype=np.int32)
    import flatbuffers

    builder = flatbuffers.Builder(len(flatbuffer) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def embed_metadata(flatbuffer: bytes, metadata: dict[str, Any]) -> bytes:
    """``flatbuffer`` with ``metadata`` (JSON) added as the model metadata entry ``zooft_metadata``.

    Uses the TFLite schema's generated Python object API shipped in ai-edge-litert (no
    tflite-support needed): unpack, append a buffer and a ``Metadata`` entry, repack. The
    runtime ignores metadata it does not know; :func:`zooft.read_tflite_metadata`
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
    """The ``tflite`` format: ``model.tflite`` (zooft's and the standard metadata embedded,
    labels packed) plus ``labels.txt``."""

    def export(self, context: zooft.ExportContext, out_dir: Path) -> Path:
        """Convert, describe the quantized I/O in the metadata, embed it, write the sidecars."""
        from .metadata import METADATA_NAME, min_parser_version, populate
        from .standard import standard_metadata

        mode, io_type = parse_options(context.options)
        if context.options.get("text_inputs", "ids") != "ids" and len(context.model.inputs) == 1:
            raise zooft.ConfigError(
                f"tflite text_inputs={context.options['text_inputs']} applies to text models on a BERT backbone;"
                f" this {context.task} model takes one {context.model.inputs[0].dtype} input",
                hint="drop text_inputs",
            )
        if "postprocess" in context.options and "postprocess" not in context.metadata:
            raise zooft.ConfigError(
                f"tflite postprocess={context.options['postprocess']!r} applies to detection exports only"
                f" (this run's task is {context.task!r})",
                hint="drop the postprocess option",
            )
        custom_ops = list(context.metadata.get("tflite_custom_ops") or [])
        # the intermediate SavedModel lives inside out_dir, so a failure cleans it up with it
        with tempfile.TemporaryDirectory(dir=out_dir, prefix=".convert-") as work:
            flatbuffer = convert(context.model, mode, io_type, context.calibration, Path(work), custom_ops)
        tensors = describe_io(flatbuffer)
        context.metadata.update(format="tflite", quantize=mode, io_type=io_type, tensors=tensors)
        standard = standard_metadata(context.metadata, context.classes, tensors)
        context.metadata["metadata_embedded"] = METADATA_KEY
        if standard is not None:
            spec, files = standard
            context.metadata["standard_metadata"] = {"name": METADATA_NAME, "min_parser_version": min_parser_version(spec),
                                                     "associated_files": sorted(files)}
        flatbuffer = embed_metadata(order_outputs_by_name(flatbuffer), context.metadata)
        if standard is not None:
            flatbuffer = populate(flatbuffer, *standard)
        path = out_dir / MODEL_FILE
        path.write_bytes(flatbuffer)
        (out_dir / "labels.txt").write_text("".join(f"{c}\n" for c in context.classes), encoding="utf-8")
        return path

    def verify(self, context: zooft.ExportContext, artifact: Path) -> zooft.ParityReport:
        """Run the .tflite in LiteRT (batched, quantizing I/O as needed) against the Keras model."""
        mode, io_type = parse_options(context.options)
        if len(context.model.inputs) > 1:  # e.g. BERT's ids / mask / segment_ids: samples are a dict
            from . import multi_input

            reference = multi_input.reference_outputs(context.model, context.samples)
            candidate, runtime = multi_input.run(artifact, context.samples)
        else:
            loaded = load_artifact(artifact)
            reference, candidate, runtime = reference_outputs(context.model, context.samples), loaded.outputs(context.samples), loaded.runtime
        return build_parity_report(
            "tflite",
            reference,
            candidate,
            task=context.parity_task,
            gates=GATES[mode],
            labels=context.sample_labels,
            targets=context.sample_targets,
            classes=context.classes,
            tolerance=context.tolerance,
            extra={"runtime": runtime, "quantize": mode, "io_type": io_type},
            quantize=mode,
        )
