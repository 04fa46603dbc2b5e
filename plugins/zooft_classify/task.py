"""The ``classify`` task: single-label image classification on a backbone's pooled features.

Keras is imported inside the methods that need it, never at module level, because
``zooft_classify.plugin`` imports this module and plugin loading must stay TensorFlow-free.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zooft import Backbone, ConfigError, DataError, Example, LabeledData

from .metrics import classification_metrics, resolve_top_k

CLASS_WEIGHT_MODES = ("none", "balanced")


def _check_classes(classes: list[str]) -> None:
    if len(classes) < 2:
        raise DataError(
            f"classification needs at least 2 classes, got {len(classes)}: {classes}",
            hint="add a folder (or label) for every class you want the model to tell apart",
        )


def _label_indices(examples: list[Example], num_classes: int) -> np.ndarray:
    """The class index of every example, checked: single-label and within ``0..C-1``."""
    labels = []
    for example in examples:
        label = example.label
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
            kind = "no label" if label is None else f"label {label!r}"
            raise DataError(
                f"{example.source}: 'classify' needs one class index per example, got {kind}",
                hint="multi-label and unlabelled data cannot train a single-label classifier",
            )
        if not 0 <= label < num_classes:
            raise DataError(f"{example.source}: class index {label} is outside 0..{num_classes - 1}")
        labels.append(int(label))
    return np.asarray(labels, dtype=np.int64)


def _fraction(config: dict[str, Any], key: str, default: float) -> float:
    """A config value that must lie in [0, 1): dropout rate, label smoothing."""
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ConfigError(f"{key} must be a number in [0, 1), got {value!r}", hint=f"e.g. --set {key}={default}")
    return float(value)


class ClassifyTask:
    """Image classification: softmax head, categorical cross-entropy, accuracy / F1 / confusion.

    Targets are one-hot float32 vectors rather than class indices so that label smoothing
    (which needs the full distribution) works with the same pipeline.
    """

    name = "classify"

    # -- model -------------------------------------------------------------------------------
    def build_model(self, backbone: Backbone, classes: list[str], config: dict[str, Any]) -> Any:
        """Raw image ``(None, h, w, 3)`` named ``image`` -> backbone ``pooled`` -> dropout -> softmax.

        The head uses built-in Keras layers only, so the saved ``.keras`` file needs no custom
        objects beyond the backbone's. The output layer computes in float32 so that a mixed
        precision policy never reaches the loss or exported outputs.
        """
        import keras

        _check_classes(classes)
        if backbone.input_size is None:
            raise ConfigError(
                f"backbone {backbone.spec.name!r} has no image input size; 'classify' needs an image backbone",
                hint="choose an image model ('zooft list-models --task classify')",
            )
        if "pooled" not in backbone.outputs:
            raise ConfigError(
                f"backbone {backbone.spec.name!r} has no 'pooled' output (it has {', '.join(backbone.outputs)})",
                hint="choose a backbone that provides a pooled feature vector",
            )
        rate = _fraction(config, "dropout", 0.2)
        height, width = backbone.input_size
        inputs = keras.Input(shape=(height, width, 3), name="image")
        features = backbone.model(inputs)
        pooled = features["pooled"] if isinstance(features, dict) else features
        x = keras.layers.Dropout(rate, name="head_dropout")(pooled)
        outputs = keras.layers.Dense(len(classes), activation="softmax", dtype="float32", name="probabilities")(x)
        return keras.Model(inputs, outputs, name="zooft_classifier")

    def feature_head(self, model: Any, backbone: Backbone) -> tuple[tuple[str, ...], Any] | None:
        """The head as its own Keras model on the backbone's ``pooled`` vector (the optional
        ``feature_head`` task hook): it reuses ``model``'s dropout and output layers, so training
        it on cached features trains ``model``. None if ``model`` is not one this task built."""
        import keras

        try:
            dropout, dense = model.get_layer("head_dropout"), model.get_layer("probabilities")
        except ValueError:
            return None
        output = backbone.model.output
        pooled = output["pooled"] if isinstance(output, dict) else output
        features = keras.Input(shape=tuple(pooled.shape[1:]), name="pooled")
        return ("pooled",), keras.Model(features, dense(dropout(features)), name="zooft_classifier_head")

    def compile_args(self, classes: list[str], config: dict[str, Any]) -> dict[str, Any]:
        """``loss`` (categorical cross-entropy with ``label_smoothing``) and ``metrics``.

        Metrics are ``accuracy`` and, for three or more classes, ``top_k`` with
        ``k = min(config top_k (5), C - 1)``.
        """
        import keras

        _check_classes(classes)
        smoothing = _fraction(config, "label_smoothing", 0.0)
        metrics: list[Any] = [keras.metrics.CategoricalAccuracy(name="accuracy")]
        k = resolve_top_k(config, len(classes))
        if k is not None:
            metrics.append(keras.metrics.TopKCategoricalAccuracy(k=k, name="top_k"))
        return {"loss": keras.losses.CategoricalCrossentropy(label_smoothing=smoothing), "metrics": metrics}

    # -- data --------------------------------------------------------------------------------
    def target(self, example: Example, num_classes: int) -> np.ndarray:
        """The one-hot float32 target ``(C,)`` of one labelled example."""
        return self.targets([example], num_classes)[0]

    def targets(self, examples: list[Example], num_classes: int) -> np.ndarray:
        """One-hot float32 targets ``(n, C)`` for many examples at once (used by the pipeline)."""
        return np.eye(num_classes, dtype=np.float32)[_label_indices(examples, num_classes)].reshape(-1, num_classes)

    def class_weights(self, data: LabeledData, mode: str | None) -> dict[int, float] | None:
        """Loss weights per class index for ``--class-weight``.

        ``None``/``"none"`` -> ``None`` (no weighting). ``"balanced"`` -> ``n / (P * n_i)`` from
        the train split, where ``P`` counts the classes that have train examples: the weights
        then average to 1 over the training set, so the loss scale (and the effective learning
        rate) stays the same. A class with no train examples gets an explicit 0.0 (it never
        occurs as a target): Keras's tf.data path turns the dict into a dense table up to the
        largest key, silently weighting missing keys 1.0 and failing on labels past it, so
        every class index gets an entry.
        """
        if mode is None or mode == "none":
            return None
        if mode != "balanced":
            raise ConfigError(
                f"unknown class weight mode {mode!r}; allowed: {', '.join(CLASS_WEIGHT_MODES)}",
                hint="use --class-weight balanced, or leave it out for unweighted training",
            )
        train = data.splits.get("train") or []
        if not train:
            raise DataError("cannot compute class weights: the data set has no training examples")
        # counted from indices, not one-hot rows: (n, C) floats can be gigabytes for big data sets
        counts = np.bincount(_label_indices(train, len(data.classes)), minlength=len(data.classes))
        present = int((counts > 0).sum())
        total = int(counts.sum())
        return {i: (total / (present * int(n)) if n else 0.0) for i, n in enumerate(counts)}

    # -- evaluation and prediction -----------------------------------------------------------
    def evaluate(self, model: Any, dataset: Any, classes: list[str], config: dict[str, Any]) -> dict[str, Any]:
        """Predict over a batched ``tf.data.Dataset`` of ``(images, one-hot)`` and score it.

        Targets are collected batch by batch alongside the predictions (rather than by a
        second pass over the dataset) so that a shuffling or augmenting dataset cannot pair
        predictions with the wrong labels. See :func:`.metrics.classification_metrics`.
        """
        import tensorflow as tf

        _check_classes(classes)
        # A traced plain call, not predict_on_batch: under MirroredStrategy Keras 3.15's
        # predict_on_batch returns one row per replica and example (12 rows for 6 images).
        # Traced once for any batch size (the dataset's spec has a None batch dimension): a
        # partial last batch would otherwise trace the whole network a second time (seconds).
        spec = dataset.element_spec[0]
        serve = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        probabilities: list[np.ndarray] = []
        targets: list[np.ndarray] = []
        for batch in dataset:
            inputs, batch_targets = batch[0], batch[1]  # a third element (sample weights) is ignored
            probabilities.append(np.asarray(serve(inputs), dtype=np.float32))
            targets.append(np.asarray(batch_targets))
        if not probabilities:
            raise DataError("cannot evaluate on an empty dataset", hint="check the validation/test split")
        return classification_metrics(
            np.concatenate(targets),
            np.concatenate(probabilities),
            classes,
            top_k=resolve_top_k(config, len(classes)),
            label_smoothing=_fraction(config, "label_smoothing", 0.0),
        )

    def postprocess(self, outputs: Any, classes: list[str], top_k: int = 1) -> list[dict[str, Any]]:
        """Softmax rows ``(n, C)`` (or one row ``(C,)``) -> one prediction per input
        (:func:`top_k_predictions`)."""
        return top_k_predictions(outputs, classes, top_k)[1]


def top_k_predictions(outputs: Any, classes: list[str], top_k: int = 1) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Probability rows ``(n, C)`` (or one row ``(C,)``) -> ``(rows as float64, predictions)``.

    Each prediction is ``{"label", "probability", "top_k": [{"label", "probability"}, ...]}``
    with ``top_k`` sorted by probability (ties keep class order) and capped to ``C`` entries.
    Shared with the text task, whose multi-label predictions add to these.
    """
    probs = np.asarray(outputs, dtype=np.float64)
    if probs.ndim == 1:
        probs = probs[None, :]
    if probs.ndim != 2 or probs.shape[1] != len(classes):
        raise DataError(f"expected model outputs of shape (n, {len(classes)}), got {probs.shape}")
    k = max(1, min(int(top_k), len(classes)))
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    results = []
    for row, ranked in zip(probs, order):
        top = [{"label": classes[i], "probability": float(row[i])} for i in ranked]
        results.append({"label": top[0]["label"], "probability": top[0]["probability"], "top_k": top})
    return probs, results
