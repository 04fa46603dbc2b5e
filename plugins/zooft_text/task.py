"""The ``text-classify`` task: a text backbone's pooled output -> dropout -> dense.

Single-label (softmax, categorical cross-entropy) or, with ``--multi-label``, multi-label
(sigmoid, binary cross-entropy, per-label decision thresholds from ``--thresholds`` carried by
the model's last layer). Keras/TensorFlow are imported inside the methods: the plugin module
imports this one and must stay TensorFlow-free.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import zooft
from zooft import Backbone, ConfigError, DataError, Example, LabeledData

from . import export as _export
from .metrics import multi_hot, multilabel_metrics, parse_thresholds

_EPSILON = 1e-7


def model_settings(model: Any) -> dict[str, Any]:
    """``{"multi_label": bool, "thresholds": [...] | None}`` read from a built text classifier."""
    for layer in model.layers:
        if type(layer).__name__ == "LabelThresholds":
            return {"multi_label": True, "thresholds": list(layer.thresholds)}
    return {"multi_label": False, "thresholds": None}


def balanced_bce(positives: np.ndarray, total: int) -> Any:
    """Binary cross-entropy with each label's positives and negatives weighted like sklearn's
    ``balanced`` (``n / (2 n_pos)``, ``n / (2 n_neg)``), so rare labels are not ignored."""
    import keras

    pos = np.where(positives > 0, total / (2.0 * np.maximum(positives, 1)), 1.0).astype("float32")
    neg = np.where(total - positives > 0, total / (2.0 * np.maximum(total - positives, 1)), 1.0).astype("float32")

    def loss(y_true: Any, y_pred: Any) -> Any:
        p = keras.ops.clip(keras.ops.cast(y_pred, "float32"), _EPSILON, 1.0 - _EPSILON)
        y = keras.ops.cast(y_true, "float32")
        terms = -(pos * y * keras.ops.log(p) + neg * (1.0 - y) * keras.ops.log(1.0 - p))
        return keras.ops.mean(terms, axis=-1)

    return loss


class TextClassifyTask:
    """Text classification on a text backbone (``bert:``): strings in, class probabilities out."""

    name = "text-classify"

    def __init__(self) -> None:
        self._train_positives: tuple[np.ndarray, int] | None = None  # set by make_dataset(training=True)
        self.export_settings: dict[str, Any] = {}  # set by export_model, read by parity

    # -- model -------------------------------------------------------------------------------
    def build_model(self, backbone: Backbone, classes: list[str], config: dict[str, Any]) -> Any:
        """``text`` (strings) -> backbone ``pooled`` -> dropout -> ``probabilities`` (float32).

        Multi-label heads end in :class:`.layers.LabelThresholds` (an identity carrying the
        thresholds). ``--thresholds`` on a single-label run is an error, not ignored.
        """
        import keras

        zooft.check_classes(classes, "text classification")
        if backbone.modality != "text" or "pooled" not in backbone.outputs:
            raise ConfigError(
                f"backbone {backbone.spec.name!r} is a {backbone.modality} model without a pooled text output;"
                " 'text-classify' needs a text backbone",
                hint="choose one with 'zooft list-models --task text-classify', or --backbone bert:/path/to/preset",
            )
        options = config.get("task_options") or {}
        multi = bool(options.get("multi_label"))
        if options.get("thresholds") and not multi:
            raise ConfigError("--thresholds applies to multi-label runs only", hint="add --multi-label, or drop --thresholds")
        rate = zooft.config_fraction(config, "dropout", 0.1)
        text = keras.Input((), dtype="string", name="text")
        features = backbone.model(text)
        if multi:
            from .layers import LabelThresholds

            x = keras.layers.Dropout(rate, name="head_dropout")(features["pooled"])
            scores = keras.layers.Dense(len(classes), activation="sigmoid", dtype="float32", name="scores")(x)
            thresholds = parse_thresholds(options.get("thresholds"), classes)
            out = LabelThresholds(thresholds, dtype="float32", name="probabilities")(scores)
        else:
            out = zooft.classification_head(features["pooled"], len(classes), dropout=rate)
        return keras.Model(text, out, name="zooft_text_classifier")

    def compile_args(self, classes: list[str], config: dict[str, Any]) -> dict[str, Any]:
        """Single-label: categorical cross-entropy (label smoothing) and accuracy. Multi-label:
        binary cross-entropy (balanced per label with ``--class-weight balanced``) and the
        fraction of right (text, label) decisions at 0.5 as ``accuracy``."""
        import keras

        zooft.check_classes(classes, "text classification")
        if not (config.get("task_options") or {}).get("multi_label"):
            smoothing = zooft.config_fraction(config, "label_smoothing", 0.0)
            return {"loss": keras.losses.CategoricalCrossentropy(label_smoothing=smoothing),
                    "metrics": [keras.metrics.CategoricalAccuracy(name="accuracy")]}
        loss: Any = keras.losses.BinaryCrossentropy()
        if config.get("class_weight") == "balanced":
            if self._train_positives is None:
                raise DataError("balanced multi-label weights need the training data first", hint="build the training dataset before compiling")
            loss = balanced_bce(*self._train_positives)
        return {"loss": loss, "metrics": [keras.metrics.BinaryAccuracy(name="accuracy")]}

    # -- data --------------------------------------------------------------------------------
    def target(self, example: Example, num_classes: int) -> np.ndarray:
        """One example's target row (one-hot, or multi-hot for label tuples)."""
        return self.targets([example], num_classes)[0]

    def targets(self, examples: list[Example], num_classes: int) -> np.ndarray:
        """``(n, C)`` float32: one-hot for int labels, multi-hot for tuples."""
        labels = [ex.label for ex in examples]
        if any(label is None for label in labels):
            raise DataError("text-classify needs a label for every example", hint="check the label column")
        return multi_hot(labels, num_classes)

    def class_weights(self, data: LabeledData, mode: str | None) -> dict[int, float] | None:
        """``balanced`` single-label weights ``n / (P n_i)`` (as ``classify``); multi-label runs
        weight inside the loss instead (Keras's class_weight assumes one class per example)."""
        if mode in (None, "none"):
            return None
        if mode != "balanced":
            raise ConfigError(f"unknown class weight mode {mode!r}", hint="use --class-weight balanced")
        train = data.splits.get("train") or []
        if any(isinstance(ex.label, tuple) for ex in train):
            return None
        return zooft.balanced_class_weights([int(ex.label) for ex in train if ex.label is not None], len(data.classes))

    def make_dataset(self, examples: list[Example], targets: Any, *, config: dict[str, Any], image_size: Any = None,
                     batch_size: int, training: bool, shuffle_seed: int | None = None, cache: Any = None, **_: Any) -> Any:
        """Batches of ``(strings (b,), targets (b, C))``, shuffled per epoch when training.

        Texts are held in memory (an index of texts is the data set), so ``cache`` has nothing to add.
        """
        import tensorflow as tf

        targets = np.asarray(targets, dtype=np.float32)
        if training:
            self._train_positives = (targets.sum(axis=0), len(targets))
        texts = tf.constant([ex.source for ex in examples], dtype=tf.string)
        dataset = tf.data.Dataset.from_tensor_slices((texts, targets))
        if training:
            dataset = dataset.shuffle(len(examples), seed=shuffle_seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    # -- evaluation and prediction -----------------------------------------------------------
    def evaluate(self, model: Any, dataset: Any, classes: list[str], config: dict[str, Any]) -> dict[str, Any]:
        """Accuracy, macro-F1, per-class metrics (and a confusion matrix for single-label)."""
        zooft.check_classes(classes, "text classification")
        y, probs = zooft.collect_predictions(model, dataset)
        settings = model_settings(model)
        if settings["multi_label"]:
            return multilabel_metrics(y, probs, classes, settings["thresholds"])
        return zooft.classification_metrics(y, probs, classes, top_k=zooft.resolve_top_k(config, len(classes)),
                                      label_smoothing=zooft.config_fraction(config, "label_smoothing", 0.0))

    def prediction_settings(self, *, model: Any = None, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """What :meth:`postprocess` needs beyond the outputs, from a run's model or an artifact's metadata."""
        if model is not None:
            return model_settings(model)
        metadata = metadata or {}
        thresholds = metadata.get("thresholds")
        if isinstance(thresholds, dict):
            thresholds = [thresholds[c] for c in metadata.get("labels", [])]
        return {"multi_label": bool(metadata.get("multi_label")), "thresholds": thresholds}

    def postprocess(self, outputs: Any, classes: list[str], top_k: int = 1, *, multi_label: bool = False,
                    thresholds: list[float] | None = None) -> list[dict[str, Any]]:
        """One prediction per text: ``{"label", "probability", "top_k"}``; multi-label adds
        ``"labels"`` (every label at or above its threshold; ``label`` joins them with ``|``)."""
        if isinstance(outputs, dict):
            outputs = outputs["probabilities"]
        probs, results = zooft.top_k_predictions(outputs, classes, top_k)
        if multi_label:
            limits = np.asarray(thresholds if thresholds is not None else [0.5] * len(classes), dtype=np.float64)
            for row, result in zip(probs, results):
                chosen = [classes[i] for i in np.argsort(-row, kind="stable") if row[i] >= limits[i]]
                result.update(label="|".join(chosen), labels=chosen)
        return results

    # -- export hooks (zooft/task.py) -----------------------------------------------------------
    def export_model(self, model: Any, format: str, metadata: dict[str, Any]) -> Any:  # noqa: A002
        """SavedModel: the trained strings model. TFLite/ONNX: token ids -> probabilities, with the
        tokenizer's config (vocabulary included) in ``metadata``."""
        self.export_settings = model_settings(model)
        return _export.export_model(model, format, metadata, self.export_settings)

    def export_inputs(self, raw: Any, metadata: dict[str, Any]) -> Any:
        """Strings -> what the artifact takes: strings again, or token ids tokenized here (the host)."""
        return _export.export_inputs(raw, metadata)

    def parity(self, reference: Any, candidate: Any, *, labels: Any, classes: Any, format: str,  # noqa: A002
               quantize: str | None = None, **_: Any) -> tuple[dict[str, Any], dict[str, float]]:
        """Numeric differences plus label agreement, gated per format (see :mod:`.export`)."""
        return _export.parity(reference, candidate, labels=labels, classes=list(classes), format=format,
                              quantize=quantize, settings=self.export_settings)
