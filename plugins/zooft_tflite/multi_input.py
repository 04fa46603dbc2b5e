"""Models with several named inputs: converting them and running them in LiteRT.

zooft's serving functions and artifact runners take one input (an image or token ids). A BERT
classifier for MediaPipe Tasks / the TFLite Task Library must take three int32 inputs, found
by their metadata names ``ids``, ``mask`` and ``segment_ids`` (the text task's
``text_inputs=bert`` variant). This module writes such a model's SavedModel (one
``serving_default`` signature with every input named after its ``keras.Input``, any batch
size) and runs the converted model batch by batch through its signature, for the exporter's
parity check. Inputs and samples are ``{input name: array}`` dicts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import zooft


def input_names(model: Any) -> list[str]:
    """The Keras model's input names, in its input order."""
    return [str(t.name).split(":")[0] for t in model.inputs]


def write_saved_model(model: Any, out_dir: Path) -> Path:
    """``model`` as a SavedModel whose ``serving_default`` takes each input by name."""
    import keras
    import tensorflow as tf

    names = input_names(model)
    specs = [tf.TensorSpec((None, *tuple(t.shape)[1:]), tf.as_dtype(str(t.dtype)), name=n) for n, t in zip(names, model.inputs)]
    outputs = [str(n) for n in model.output_names]

    def serve(*tensors: Any) -> dict[str, Any]:
        out = model(dict(zip(names, tensors)), training=False)
        if isinstance(out, dict):
            return dict(out)
        return dict(zip(outputs, out if isinstance(out, (list, tuple)) else [out]))

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve, input_signature=specs)
    archive.write_out(str(out_dir), verbose=False)
    return out_dir


def reference_outputs(model: Any, samples: dict[str, Any], batch_size: int = 32) -> dict[str, np.ndarray]:
    """The Keras model's outputs on ``samples`` (``{input name: array}``), by output name."""
    raw = model.predict({k: np.asarray(v) for k, v in samples.items()}, batch_size=batch_size, verbose=0)
    if isinstance(raw, dict):
        return {str(k): np.asarray(v) for k, v in raw.items()}
    raw = raw if isinstance(raw, (list, tuple)) else [raw]
    return {str(n): np.asarray(v) for n, v in zip(model.output_names, raw)}


def run(artifact: Path, samples: dict[str, Any], batch_size: int = 32) -> tuple[dict[str, np.ndarray], str]:
    """``({output name: array}, runtime)``: the .tflite run on ``samples`` through its signature.

    Integer inputs are passed as they are (token ids, masks); quantized float outputs are
    dequantized with their scale and zero point.
    """
    try:
        from importlib.metadata import version

        from ai_edge_litert.interpreter import Interpreter

        runtime = f"ai_edge_litert {version('ai-edge-litert')}"
    except ImportError:  # TensorFlow's deprecated copy, as zooft's artifact runner falls back to
        import tensorflow as tf

        Interpreter, runtime = tf.lite.Interpreter, f"tf.lite.Interpreter {tf.__version__}"
    interpreter = Interpreter(model_path=str(artifact))
    runner = interpreter.get_signature_runner("serving_default")
    details = runner.get_input_details()
    missing = sorted(set(details) - set(samples))
    if missing:
        raise zooft.ExportError(f"{artifact} takes inputs {sorted(details)}; the samples lack {missing}")
    n = len(next(iter(samples.values())))
    chunks: list[dict[str, np.ndarray]] = []
    for start in range(0, n, batch_size):
        feed = {k: np.asarray(samples[k][start:start + batch_size]).astype(details[k]["dtype"]) for k in details}
        out = runner(**feed)
        chunk = {}
        for name, detail in runner.get_output_details().items():
            scale, zero = detail["quantization"]
            chunk[name] = (out[name].astype(np.float32) - zero) * scale if scale else np.asarray(out[name])
        chunks.append(chunk)
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}, runtime
