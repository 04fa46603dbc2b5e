"""The ``classify`` task: single-label image classification on a backbone's pooled features.

Keras is imported inside the methods that need it, never at module level, because
``zooft_classify.plugin`` imports this module and plugin loading must stay TensorFlow-free.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import zooft
from zooft import Backbone, ConfigError, Example, LabeledData

CLASS_WEIGHT_MODES = ("none", "balanced")


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

        zooft.check_classes(classes)
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
        rate = zooft.config_fraction(config, "dropout", 0.2)
        height, width = backbone.input_size
        inputs = keras.Input(shape=(height, width, 3), name="image")
        features = backbone.model(inputs)
        pooled = features["pooled"] if isinstance(features, dict) else features
        outputs = zooft.classification_head(pooled, len(classes), dropout=rate)
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

        zooft.check_classes(classes)
        smoothing = zooft.config_fraction(config, "label_smoothing", 0.0)
        metrics: list[Any] = [keras.metrics.CategoricalAccuracy(name="accuracy")]
        k = zooft.resolve_top_k(config, len(classes))
        if k is not None:
            metrics.append(keras.metrics.TopKCategoricalAccuracy(k=k, name="top_k"))
        return {"loss": keras.losses.CategoricalCrossentropy(label_smoothing=smoothing), "metrics": metrics}

    # -- data --------------------------------------------------------------------------------
    def target(self, example: Example, num_classes: int) -> np.ndarray:
        """The one-hot float32 target ``(C,)`` of one labelled example."""
        return self.targets([example], num_classes)[0]

    def targets(self, examples: list[Example], num_classes: int) -> np.ndarray:
        """One-hot float32 targets ``(n, C)`` for many examples at once (used by the pipeline)."""
        return np.eye(num_classes, dtype=np.float32)[zooft.single_labels(examples, num_classes)].reshape(-1, num_classes)

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
        # counted from indices, not one-hot rows: (n, C) floats can be gigabytes for big data sets
        return zooft.balanced_class_weights(zooft.single_labels(train, len(data.classes)), len(data.classes))

    # -- evaluation and prediction -----------------------------------------------------------
    def evaluate(self, model: Any, dataset: Any, classes: list[str], config: dict[str, Any]) -> dict[str, Any]:
        """Predict over a batched ``tf.data.Dataset`` of ``(images, one-hot)`` and score it.

        Targets are collected batch by batch alongside the predictions (rather than by a
        second pass over the dataset) so that a shuffling or augmenting dataset cannot pair
        predictions with the wrong labels. See :func:`zooft.classification_metrics`.
        """
        zooft.check_classes(classes)
        targets, probabilities = zooft.collect_predictions(model, dataset)
        return zooft.classification_metrics(
            targets,
            probabilities,
            classes,
            top_k=zooft.resolve_top_k(config, len(classes)),
            label_smoothing=zooft.config_fraction(config, "label_smoothing", 0.0),
        )

    def postprocess(self, outputs: Any, classes: list[str], top_k: int = 1) -> list[dict[str, Any]]:
        """Softmax rows ``(n, C)`` (or one row ``(C,)``) -> one prediction per input
        (:func:`zooft.top_k_predictions`)."""
        return zooft.top_k_predictions(outputs, classes, top_k)[1]

