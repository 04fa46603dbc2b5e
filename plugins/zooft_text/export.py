"""The text task's export hooks: which model each format converts, host tokenization, parity.

- ``savedmodel`` converts the trained model itself: raw strings in, tokenizer ops in the graph
  (loading it needs ``tensorflow_text``, listed in the metadata as ``tf_op_libraries``).
- ``tflite`` and ``onnx`` cannot hold the tokenizer's ops (no WordPiece kernels), so they convert
  ``token_ids (int32, (None, L)) -> probabilities``: the backbone's ``encoder`` plus the head.
  With the tflite option ``text_inputs=bert`` the model takes BERT's three int32 inputs ``ids``,
  ``mask`` and ``segment_ids`` instead (keras-hub's ``BertBackbone`` fed directly), the layout
  MediaPipe Tasks' ``TextClassifier`` requires (it picks the model type from the input count
  and finds the tensors by these metadata names). Every TFLite export carries the standard
  metadata: a BERT tokenizer unit with the vocabulary packed as ``vocab.txt``, and the labels.
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
BERT_INPUTS = ("ids", "mask", "segment_ids")  # MediaPipe / Task Library names, this order
VOCAB_FILE = "vocab.txt"
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
    bert_inputs = format == "tflite" and (metadata.get("options") or {}).get("text_inputs") == "bert"
    if bert_inputs:
        metadata["input"] = {"names": list(BERT_INPUTS), "dtype": "int32", "shape": [None, sequence_length], "tokenizer": "on the host"}
        core = next((layer for layer in encoder.layers if type(layer).__name__ == "BertBackbone"), None)
        if core is None:
            raise zooft.ExportError("text_inputs=bert needs a keras-hub BertBackbone inside the encoder", hint="drop text_inputs")
        inputs = {name: keras.Input((sequence_length,), dtype="int32", name=name) for name in BERT_INPUTS}
        out = core({"token_ids": inputs["ids"], "segment_ids": inputs["segment_ids"],
                    "padding_mask": keras.ops.cast(inputs["mask"], "bool")})
        x = out["pooled_output"]
    else:
        inputs = keras.Input((sequence_length,), dtype="int32", name="token_ids")
        x = encoder(inputs)["pooled"]
    backbone_index = next(i for i, layer in enumerate(model.layers) if layer is _owner(model, encoder))
    for layer in model.layers[backbone_index + 1:]:
        if isinstance(layer, keras.layers.Dropout):
            continue  # identity at inference
        x = layer(x)
    if format == "tflite":
        metadata["tflite_metadata"] = tflite_metadata(list(tokenizer.get_config()["vocabulary"]), bert_inputs)
    return keras.Model(inputs, {"probabilities": x}, name="zooft_text_classifier_bert" if bert_inputs else "zooft_text_classifier_ids")


def tflite_metadata(vocabulary: list[str], bert_inputs: bool) -> dict[str, Any]:
    """The standard TFLite metadata of a text classifier (the tflite exporter's ``tflite_metadata``
    contract, docs/plugins.md): the token-id input(s), a BERT tokenizer unit with the vocabulary,
    the scores labelled by ``labels.txt``."""
    described = {
        "ids": "WordPiece ids: [CLS] tokens [SEP], then [PAD] up to the sequence length",
        "mask": "1 for each token of ids, 0 for padding",
        "segment_ids": "0 for every position (one segment)",
        "token_ids": "WordPiece ids: [CLS] tokens [SEP], then [PAD] (padding mask and segments are derived inside)",
    }
    keys = list(BERT_INPUTS) if bert_inputs else ["token_ids"]
    inputs = [{"name": "ids" if key == "token_ids" else key, "signature_key": key, "description": described[key],
               "content": {"kind": "feature"}} for key in keys]
    vocab = {"name": VOCAB_FILE, "description": "WordPiece vocabulary, one token per line (line number = id)", "type": "VOCABULARY"}
    return {
        "spec": {
            "inputs": inputs,
            "outputs": [{"name": "probability", "signature_key": "probabilities", "description": "one score per class",
                         "content": {"kind": "feature"}, "stats": {"min": [0.0], "max": [1.0]},
                         "associated_files": [{"name": "labels.txt", "description": "class labels", "type": "TENSOR_AXIS_LABELS"}]}],
            "input_process_units": [{"bert_tokenizer": {"vocab_file": [vocab]}}],
        },
        "files": {VOCAB_FILE: "".join(f"{token}\n" for token in vocabulary)},
    }


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
    the artifact takes ids (its metadata has a ``tokenizer``), or ``{"ids", "mask",
    "segment_ids"}`` arrays for a BERT-inputs artifact."""
    texts = np.asarray([str(t) for t in np.asarray(raw, dtype=object).reshape(-1)], dtype=object)
    spec = metadata.get("tokenizer")
    if not spec:
        return texts
    import tensorflow as tf

    layer = tokenizer_from_metadata(spec)
    length = int(spec["config"]["sequence_length"])
    chunks = [np.asarray(layer(tf.constant(list(texts[i:i + batch]), dtype=tf.string)), dtype=np.int32)
              for i in range(0, len(texts), batch)]
    ids = np.concatenate(chunks) if chunks else np.zeros((0, length), dtype=np.int32)
    if list((metadata.get("input") or {}).get("names") or []) == list(BERT_INPUTS):
        return {"ids": ids, "mask": (ids != layer.pad_id).astype(np.int32), "segment_ids": np.zeros_like(ids)}
    return ids


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
