"""What every classification task shares (public as ``zooft.*``, used by ``classify`` and
``text-classify``): the class checks, the softmax/sigmoid head, balanced class weights, the
evaluation loop, top-k predictions and the metrics.

The metrics are plain numpy, so evaluation needs neither TensorFlow nor sklearn.

Conventions (they match Keras and sklearn where both exist, and the tests check that):

- Confusion matrices have true classes as rows and predicted classes as columns.
- Top-1 prediction is ``argmax`` (the first class wins a tie), like ``CategoricalAccuracy``.
- An example is in the top ``k`` when fewer than ``k`` classes score strictly higher than
  its true class, like ``tf.math.in_top_k`` (ties at the boundary count as hits).
- Any 0/0 (a class never predicted, or absent from the data) is 0.0, like sklearn's
  ``zero_division=0``.
- Macro F1 averages over the classes that occur in the targets or the predictions, like
  sklearn's default ``labels=None``: a class absent from a small test split would otherwise
  count as F1 = 0 and drag the score down for no fault of the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .data.records import Example
from .errors import ConfigError, DataError

# Keras clips probabilities to [eps, 1 - eps] before taking the log; using the same epsilon
# makes our loss equal to the ``val_loss`` Keras reports, so the report's numbers agree.
_KERAS_EPSILON = 1e-7


def resolve_top_k(config: dict[str, Any], num_classes: int) -> int | None:
    """The ``k`` of the top-k accuracy metric: ``config["top_k"]`` (default 5) capped to ``C - 1``.

    Returns ``None`` for two classes, where top-k with ``k >= 2`` is always 1.0 and says nothing.
    """
    value = config.get("top_k", 5)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"top_k must be a positive integer, got {value!r}", hint="set top_k in the --config file, e.g. top_k: 5")
    if num_classes <= 2:
        return None
    return min(value, num_classes - 1)


def labels_from_targets(targets: Any) -> np.ndarray:
    """Class indices from one-hot (or smoothed) targets of shape ``(n, C)``, or indices as given."""
    array = np.asarray(targets)
    if array.ndim == 2:
        return np.argmax(array, axis=1).astype(np.int64)
    if array.ndim == 1:
        return array.astype(np.int64)
    raise DataError(f"targets must be one-hot (n, C) or class indices (n,), got shape {array.shape}")


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class) pairs: an ``(C, C)`` int64 matrix."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise DataError(f"{y_true.shape[0]} targets but {y_pred.shape[0]} predictions")
    for name, values in (("targets", y_true), ("predictions", y_pred)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise DataError(f"{name} hold class indices outside 0..{num_classes - 1}")
    # bincount on a flattened (row, column) index is the vectorised way to count pairs
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator = numerator.astype(np.float64)
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def precision_recall_f1(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 and support from a confusion matrix (0/0 -> 0.0)."""
    true_positive = np.diag(matrix)
    predicted = matrix.sum(axis=0)
    support = matrix.sum(axis=1)
    precision = _safe_divide(true_positive, predicted)
    recall = _safe_divide(true_positive, support)
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    return precision, recall, f1, support


def macro_f1(matrix: np.ndarray) -> float:
    """Mean F1 over the classes present in targets or predictions (see the module docstring)."""
    _, _, f1, support = precision_recall_f1(matrix)
    present = (support > 0) | (matrix.sum(axis=0) > 0)
    return float(f1[present].mean()) if present.any() else 0.0


def top_k_accuracy(y_true: Any, probabilities: Any, k: int) -> float:
    """Fraction of examples whose true class is among the ``k`` highest scores."""
    probs = np.asarray(probabilities, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=np.int64)
    if probs.shape[0] == 0:
        return 0.0
    true_score = probs[np.arange(probs.shape[0]), y_true]
    higher = (probs > true_score[:, None]).sum(axis=1)
    return float(np.mean(higher < k))


def categorical_crossentropy(targets: Any, probabilities: Any, label_smoothing: float = 0.0) -> float:
    """Mean cross-entropy of probability rows against one-hot targets, as Keras computes it."""
    probs = np.asarray(probabilities, dtype=np.float64)
    onehot = np.asarray(targets, dtype=np.float64)
    if onehot.ndim == 1:  # class indices
        onehot = np.eye(probs.shape[1])[onehot.astype(np.int64)]
    if probs.shape[0] == 0:
        return 0.0
    if label_smoothing:
        onehot = onehot * (1.0 - label_smoothing) + label_smoothing / probs.shape[1]
    # Keras renormalises rows before clipping; softmax rows already sum to 1 up to rounding
    probs = probs / probs.sum(axis=1, keepdims=True)
    probs = np.clip(probs, _KERAS_EPSILON, 1.0 - _KERAS_EPSILON)
    return float(np.mean(-(onehot * np.log(probs)).sum(axis=1)))


def classification_metrics(
    targets: Any,
    probabilities: Any,
    classes: Sequence[str],
    *,
    top_k: int | None = None,
    label_smoothing: float = 0.0,
) -> dict[str, Any]:
    """Everything ``zooft eval`` reports for classification, JSON-ready.

    ``targets`` are one-hot rows ``(n, C)`` (or indices ``(n,)``); ``probabilities`` are the
    model's softmax rows ``(n, C)``. ``loss`` uses the run's label smoothing so that it is the
    same number as Keras's ``val_loss`` for that run (class weights are not applied there
    either). ``top_k`` is ``None`` when ``top_k`` is ``None`` (two classes).
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    num_classes = len(classes)
    if probs.ndim != 2 or probs.shape[1] != num_classes:
        raise DataError(f"expected probabilities of shape (n, {num_classes}), got {probs.shape}")
    y_true = labels_from_targets(targets)
    y_pred = np.argmax(probs, axis=1) if probs.shape[0] else np.zeros(0, dtype=np.int64)
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    precision, recall, f1, support = precision_recall_f1(matrix)
    n = int(y_true.shape[0])
    return {
        "accuracy": float(np.trace(matrix) / n) if n else 0.0,
        "top_k": {"k": top_k, "accuracy": top_k_accuracy(y_true, probs, top_k)} if top_k else None,
        "loss": categorical_crossentropy(targets, probs, label_smoothing),
        "macro_f1": macro_f1(matrix),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(classes)
        },
        "confusion_matrix": matrix.astype(int).tolist(),
        "classes": list(classes),
        "samples": n,
    }


# -- shared by the classification tasks ------------------------------------------------------------
def check_classes(classes: Sequence[str], task: str = "classification") -> None:
    """Refuse fewer than two classes (one class cannot be told apart from anything)."""
    if len(classes) < 2:
        raise DataError(
            f"{task} needs at least 2 classes, got {len(classes)}: {list(classes)}",
            hint="add a folder (or label) for every class you want the model to tell apart",
        )


def config_fraction(config: dict[str, Any], key: str, default: float) -> float:
    """A config value that must lie in [0, 1) (dropout rate, label smoothing), checked."""
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        flag = "--" + key.replace("_", "-")
        raise ConfigError(f"{key} must be a number in [0, 1), got {value!r}", hint=f"e.g. {flag} {default} (or {key}: in --config)")
    return float(value)


def classification_head(features: Any, num_classes: int, *, dropout: float, activation: str = "softmax") -> Any:
    """Dropout (layer ``head_dropout``) then a float32 dense layer ``probabilities`` on ``features``.

    Built-in Keras layers only, so a saved ``.keras`` file needs no custom objects for the head;
    float32 so a mixed-precision policy never reaches the loss or the exported outputs.
    """
    import keras

    x = keras.layers.Dropout(dropout, name="head_dropout")(features)
    return keras.layers.Dense(num_classes, activation=activation, dtype="float32", name="probabilities")(x)


def balanced_class_weights(labels: Sequence[int], num_classes: int) -> dict[int, float]:
    """``n / (P * n_i)`` per class index, ``P`` the classes that occur: the weights average to 1
    over the examples, so the loss scale (and the effective learning rate) stays the same.

    A class without examples gets an explicit 0.0: Keras's tf.data path turns the dict into a
    dense table up to the largest key, silently weighting missing keys 1.0 and failing on labels
    past it, so every class index gets an entry.
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
    if not counts.sum():
        raise DataError("cannot compute class weights: the data set has no training examples")
    present, total = int((counts > 0).sum()), int(counts.sum())
    return {i: (total / (present * int(n)) if n else 0.0) for i, n in enumerate(counts)}


def single_labels(examples: Sequence[Example], num_classes: int, task: str = "classify") -> np.ndarray:
    """The class index of every example, checked: single-label and within ``0..C-1``."""
    labels = []
    for example in examples:
        label = example.label
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
            kind = "no label" if label is None else f"label {label!r}"
            raise DataError(
                f"{example.source}: {task!r} needs one class index per example, got {kind}",
                hint="multi-label and unlabelled data cannot train a single-label classifier",
            )
        if not 0 <= label < num_classes:
            raise DataError(f"{example.source}: class index {label} is outside 0..{num_classes - 1}")
        labels.append(int(label))
    return np.asarray(labels, dtype=np.int64)


def collect_predictions(model: Any, dataset: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(targets, outputs)`` of ``model`` over a batched ``(inputs, targets[, weights])`` dataset.

    Targets are collected batch by batch alongside the predictions (not by a second pass), so a
    shuffling or augmenting dataset cannot pair predictions with the wrong labels. A traced plain
    call, not ``predict_on_batch``: under MirroredStrategy Keras 3.15's ``predict_on_batch``
    returns one row per replica and example. Traced once for any batch size (the dataset's spec
    has a None batch dimension): a partial last batch would otherwise trace the network again.
    """
    import tensorflow as tf

    # autograph=False: converting the lambda costs a noticeable share of evaluation's start-up
    serve = tf.function(lambda x: model(x, training=False), input_signature=[dataset.element_spec[0]], autograph=False)
    outputs: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    for batch in dataset:
        outputs.append(np.asarray(serve(batch[0]), dtype=np.float32))
        targets.append(np.asarray(batch[1]))
    if not outputs:
        raise DataError("cannot evaluate on an empty dataset", hint="check the validation/test split")
    return np.concatenate(targets), np.concatenate(outputs)


def top_k_predictions(outputs: Any, classes: Sequence[str], top_k: int = 1) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Probability rows ``(n, C)`` (or one row ``(C,)``) -> ``(rows as float64, predictions)``.

    Each prediction is ``{"label", "probability", "top_k": [{"label", "probability"}, ...]}``
    with ``top_k`` sorted by probability (ties keep class order) and capped to ``C`` entries.
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
