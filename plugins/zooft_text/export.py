"""The text task's export hooks: which model each format converts, host tokenization, parity.

- ``savedmodel`` converts the trained model itself: raw strings in, tokenizer ops in the graph
  (loading it needs ``tensorflow_text``, listed in the metadata as ``tf_op_libraries``).
- ``tflite`` and ``onnx`` cannot hold the tokenizer's ops (FACTS.md), so they convert
  ``token_ids (int32, (None, L)) -> probabilities``: the backbone's ``encoder`` plus the head.
  The tokenizer layer's config (class, vocabulary, settings, sequence length) goes into the
  metadata, and :func:`export_inputs` rebuilds that layer on the host to tokenize, so the ids
  are exactly those the graph would make.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from typing import Any

import numpy as np

import zooft

STRING_FORMATS = ("savedmodel",)
# Unquantized float exports: the same maths in another runtime (SavedModel: the same kernels).
FLOAT_GATES = {"savedmodel": 1e-5, "tflite": 1e-4, "onnx": 1e-4}
QUANTIZED_GATES = {"float16": {"max_abs": 0.02, "agreement": 0.98}, "dynamic": {"agreement": 0.95}}
_TOKENIZERS: dict[str, Any] = {}


def _find(model: Any, name: str) -> Any:
    """The layer called ``name`` anywhere inside ``model`` (text backbones are nested models)."""
    for layer in model.layers:
        if layer.name == name:
            return layer
        if hasattr(layer, "layers"):
            found = _find(layer, name)
            if found is not None:
                return found
    return None


def export_model(model: Any, format: str, metadata: dict[str, Any], settings: dict[str, Any]) -> Any:  # noqa: A002
    """See the module docstring; adds ``multi_label``, ``thresholds``, ``input`` (and ``tokenizer``)."""
    import keras

    labels = list(metadata.get("labels") or [])
    metadata["multi_label"] = settings["multi_label"]
    metadata["thresholds"] = dict(zip(labels, settings["thresholds"])) if settings["thresholds"] else None
    tokenizer, encoder = _find(model, "tokenizer"), _find(model, "encoder")
    if tokenizer is None or encoder is None:
        raise zooft.ExportError("the model has no 'tokenizer' and 'encoder' layers; it was not built on a zooft text backbone",
                                hint="train it with --backbone bert:… (docs/text.md)")
    sequence_length = int(tokenizer.get_config()["sequence_length"])
    metadata["sequence_length"] = sequence_length
    if format in STRING_FORMATS:
        metadata["input"] = {"name": "text", "dtype": "string", "shape": [None], "tokenizer": "in the graph"}
        metadata["tf_op_libraries"] = ["tensorflow_text"]
        return model
    metadata["input"] = {"name": "token_ids", "dtype": "int32", "shape": [None, sequence_length], "tokenizer": "on the host"}
    metadata["input_dtype"] = "int32"
    metadata["tokenizer"] = {"module": type(tokenizer).__module__, "class": type(tokenizer).__name__, "config": tokenizer.get_config()}
    token_ids = keras.Input((sequence_length,), dtype="int32", name="token_ids")
    x = encoder(token_ids)["pooled"]
    backbone_index = next(i for i, layer in enumerate(model.layers) if layer is _owner(model, encoder))
    for layer in model.layers[backbone_index + 1:]:
        if isinstance(layer, keras.layers.Dropout):
            continue  # identity at inference
        x = layer(x)
    return keras.Model(token_ids, {"probabilities": x}, name="zooft_text_classifier_ids")


def _owner(model: Any, inner: Any) -> Any:
    """The top-level layer of ``model`` that is or contains ``inner``."""
    for layer in model.layers:
        if layer is inner or (hasattr(layer, "layers") and _find(layer, inner.name) is inner):
            return layer
    raise zooft.ExportError(f"cannot find the layer holding {inner.name!r}")


def tokenizer_from_metadata(spec: dict[str, Any]) -> Any:
    """The tokenizer layer described by an artifact's metadata (cached per configuration).

    Only modules of zooft plugins (``zooft_*``) are imported: metadata is data, not code.
    """
    module = str(spec.get("module", ""))
    if not module.startswith("zooft_"):
        raise zooft.ExportError(f"artifact metadata names tokenizer module {module!r}, which is not a zooft plugin",
                                hint="re-export the run with zooft")
    key = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()
    if key not in _TOKENIZERS:
        try:
            cls = getattr(importlib.import_module(module), str(spec["class"]))
        except (ImportError, AttributeError) as exc:
            raise zooft.ExportError(f"cannot load the tokenizer {module}.{spec.get('class')}: {exc}",
                                    hint="install the plugin that exported the artifact (e.g. pip install 'zooft[bert]')") from None
        _TOKENIZERS[key] = cls.from_config(spec["config"])
    return _TOKENIZERS[key]


def export_inputs(raw: Any, metadata: dict[str, Any], batch: int = 256) -> Any:
    """Strings (any sequence) -> an object array of strings, or int32 token ids ``(n, L)`` when
    the artifact takes ids (its metadata has a ``tokenizer``)."""
    texts = np.asarray([str(t) for t in np.asarray(raw, dtype=object).reshape(-1)], dtype=object)
    spec = metadata.get("tokenizer")
    if not spec:
        return texts
    import tensorflow as tf

    layer = tokenizer_from_metadata(spec)
    length = int(spec["config"]["sequence_length"])
    if not len(texts):
        return np.zeros((0, length), dtype=np.int32)
    chunks = [np.asarray(layer(tf.constant(list(texts[i:i + batch]), dtype=tf.string)), dtype=np.int32)
              for i in range(0, len(texts), batch)]
    return np.concatenate(chunks)


def parity(reference: dict[str, Any], candidate: dict[str, Any], *, labels: Any, classes: list[str], format: str,  # noqa: A002
           quantize: str | None, settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, float]]:
    """Metrics: the numeric differences, then ``top1_agreement`` and the accuracy of both
    (single-label) or ``decision_agreement`` of every (text, label) decision at the run's
    thresholds (multi-label). Gates: unquantized exports ``max_abs`` (SavedModel 1e-5, TFLite
    and ONNX 1e-4); ``float16`` 0.02 plus 98 % agreement; ``dynamic`` 95 % agreement."""
    metrics = zooft.numeric_parity(reference, candidate)
    ref, cand = np.asarray(reference["probabilities"]), np.asarray(candidate["probabilities"])
    if settings.get("multi_label"):
        limits = np.asarray(settings.get("thresholds") or [0.5] * len(classes))[None, :]
        agreement_name = "decision_agreement"
        metrics[agreement_name] = float(np.mean((ref >= limits) == (cand >= limits))) if len(ref) else 1.0
    else:
        agreement_name = "top1_agreement"
        metrics.update(zooft.classify_parity(reference, candidate, labels, classes))
    mode = quantize or "none"
    if mode == "none":
        gates = {"max_abs": FLOAT_GATES.get(format, 1e-4)}
    elif mode in QUANTIZED_GATES:
        gates = {("max_abs" if k == "max_abs" else agreement_name): v for k, v in QUANTIZED_GATES[mode].items()}
    else:
        raise zooft.ExportError(f"{format} quantize={mode} is not supported for text models",
                                hint="use quantize=none, float16 or dynamic (token-id inputs cannot be int8-calibrated)")
    return metrics, gates
