"""The classify plugin's numpy metrics and TensorFlow-free task methods.

Hand-computed cases pin the conventions; sklearn (a test-only dependency) cross-checks them
on random data. Nothing here may import TensorFlow.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import zooft
from zooft.plugins import PluginHost
from zooft_classify import plugin
from zooft.classification import (
    categorical_crossentropy,
    classification_metrics,
    confusion_matrix,
    macro_f1,
    resolve_top_k,
    top_k_accuracy,
)
from zooft_classify.task import ClassifyTask

CLASSES = ["cat", "dog", "fox"]
# true: cat cat cat dog dog fox ; predicted: cat dog cat dog dog cat
Y_TRUE = np.array([0, 0, 0, 1, 1, 2])
PROBS = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.3, 0.6, 0.1],
        [0.5, 0.1, 0.4],
        [0.1, 0.8, 0.1],
        [0.2, 0.5, 0.3],
        [0.6, 0.1, 0.3],
    ]
)


def test_confusion_matrix_rows_are_true_classes() -> None:
    matrix = confusion_matrix(Y_TRUE, PROBS.argmax(axis=1), 3)
    assert matrix.tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]


def test_hand_computed_report() -> None:
    onehot = np.eye(3, dtype=np.float32)[Y_TRUE]
    report = classification_metrics(onehot, PROBS, CLASSES, top_k=2)
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["samples"] == 6
    assert report["classes"] == CLASSES
    # cat: TP 2, predicted 3, support 3; dog: TP 2, predicted 3, support 2; fox: never predicted
    cat, dog, fox = (report["per_class"][c] for c in CLASSES)
    assert cat == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3})
    assert dog == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2})
    assert fox == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}  # 0/0 -> 0.0
    assert report["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 0.0) / 3)
    # top-2: the fox row has fox (0.3) second -> hit; the cat row [0.3, 0.6, 0.1] has cat second -> hit
    assert report["top_k"] == {"k": 2, "accuracy": pytest.approx(6 / 6)}
    expected_loss = -np.mean(np.log([0.7, 0.3, 0.5, 0.8, 0.5, 0.3]))
    assert report["loss"] == pytest.approx(expected_loss)
    assert report["confusion_matrix"] == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]


def test_top_k_ties_count_as_hits_and_two_classes_have_no_top_k() -> None:
    probs = np.array([[0.4, 0.4, 0.2], [0.5, 0.25, 0.25]])
    assert top_k_accuracy([1, 2], probs, 1) == 0.5  # tie at the top counts, like tf.math.in_top_k
    assert top_k_accuracy([1, 2], probs, 2) == 1.0
    report = classification_metrics([0, 1], [[0.9, 0.1], [0.2, 0.8]], ["a", "b"], top_k=None)
    assert report["top_k"] is None and report["accuracy"] == 1.0


def test_label_smoothing_loss_and_clipping() -> None:
    onehot = np.array([[1.0, 0.0], [0.0, 1.0]])
    probs = np.array([[0.8, 0.2], [1.0, 0.0]])
    smoothed = onehot * 0.9 + 0.05
    clipped = [[0.8, 0.2], [1 - 1e-7, 1e-7]]  # Keras clips to [1e-7, 1 - 1e-7] before the log
    expected = np.mean(-(smoothed * np.log(clipped)).sum(axis=1))
    assert categorical_crossentropy(onehot, probs, 0.1) == pytest.approx(expected)
    assert np.isfinite(categorical_crossentropy(onehot, [[0.0, 1.0], [1.0, 0.0]]))


def test_macro_f1_skips_classes_absent_from_targets_and_predictions() -> None:
    matrix = confusion_matrix([0, 1], [0, 1], 4)
    assert macro_f1(matrix) == 1.0


def test_against_sklearn_on_random_data() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    n, c = 200, 7
    logits = rng.normal(size=(n, c))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y_true = rng.integers(0, c - 1, size=n)  # the last class never occurs as a target
    report = classification_metrics(y_true, probs, [f"c{i}" for i in range(c)], top_k=3)
    y_pred = probs.argmax(axis=1)
    assert report["accuracy"] == pytest.approx(metrics.accuracy_score(y_true, y_pred))
    assert report["macro_f1"] == pytest.approx(metrics.f1_score(y_true, y_pred, average="macro", zero_division=0))
    assert report["top_k"]["accuracy"] == pytest.approx(
        metrics.top_k_accuracy_score(y_true, probs, k=3, labels=list(range(c)))
    )
    assert report["loss"] == pytest.approx(metrics.log_loss(y_true, probs, labels=list(range(c))))
    assert report["confusion_matrix"] == metrics.confusion_matrix(y_true, y_pred, labels=list(range(c))).tolist()
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=list(range(c)), zero_division=0
    )
    ours = list(report["per_class"].values())
    assert [r["precision"] for r in ours] == pytest.approx(precision.tolist())
    assert [r["recall"] for r in ours] == pytest.approx(recall.tolist())
    assert [r["f1"] for r in ours] == pytest.approx(f1.tolist())
    assert [r["support"] for r in ours] == support.tolist()


def test_resolve_top_k() -> None:
    assert resolve_top_k({}, 10) == 5
    assert resolve_top_k({}, 4) == 3
    assert resolve_top_k({"top_k": 2}, 10) == 2
    assert resolve_top_k({}, 2) is None
    with pytest.raises(zooft.ConfigError, match="top_k"):
        resolve_top_k({"top_k": 0}, 10)


# -- TensorFlow-free task methods ----------------------------------------------------------------
def _data(counts: list[int]) -> zooft.LabeledData:
    train = [zooft.Example(f"/x/{i}_{j}.png", i) for i, n in enumerate(counts) for j in range(n)]
    return zooft.LabeledData(classes=[f"c{i}" for i in range(len(counts))], splits={"train": train})


def test_plugin_registers_classify_task() -> None:
    host = PluginHost(autoload=False, plugins=[("classify", plugin)])
    info = host.task("classify")
    assert info.requires == "pooled" and info.modalities == ("image",) and info.plugin == "classify"
    task = info.factory()
    assert isinstance(task, zooft.Task) and task.name == "classify"


def test_targets_are_one_hot_float32() -> None:
    task = ClassifyTask()
    target = task.target(zooft.Example("/a.png", 2), 4)
    assert target.dtype == np.float32 and target.tolist() == [0, 0, 1, 0]
    many = task.targets([zooft.Example("/a.png", 0), zooft.Example("/b.png", 3)], 4)
    assert many.shape == (2, 4) and many.dtype == np.float32 and many.argmax(axis=1).tolist() == [0, 3]
    assert task.targets([], 4).shape == (0, 4)
    for bad in (None, (0, 1), 4):
        with pytest.raises(zooft.DataError):
            task.target(zooft.Example("/a.png", bad), 4)


def test_balanced_class_weights() -> None:
    task = ClassifyTask()
    weights = task.class_weights(_data([6, 2, 0, 4]), "balanced")
    # 12 examples over 3 present classes: 12 / (3 * n_i); the absent class gets 0.0
    assert weights == pytest.approx({0: 12 / 18, 1: 12 / 6, 2: 0.0, 3: 12 / 12})
    assert task.class_weights(_data([1, 1]), None) is None
    assert task.class_weights(_data([1, 1]), "none") is None
    with pytest.raises(zooft.ConfigError, match="balanced"):
        task.class_weights(_data([1, 1]), "inverse")


def test_postprocess_sorts_and_caps_top_k() -> None:
    task = ClassifyTask()
    out = task.postprocess(np.array([[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]]), ["a", "b", "c"], top_k=5)
    assert out[0]["label"] == "b" and out[0]["probability"] == pytest.approx(0.7)
    assert [p["label"] for p in out[0]["top_k"]] == ["b", "c", "a"]
    assert [p["label"] for p in out[1]["top_k"]] == ["a", "b", "c"]  # ties keep class order
    single = task.postprocess([0.9, 0.05, 0.05], ["a", "b", "c"])
    assert len(single) == 1 and single[0]["top_k"] == [{"label": "a", "probability": pytest.approx(0.9)}]


def test_no_tensorflow_imported() -> None:
    # A fresh interpreter, because in this one pytest may already have collected an integration
    # module that imports TensorFlow; running every function here must not import it either.
    code = (
        "import sys, numpy as np, zooft, zooft_classify.plugin, zooft.classification as m;"
        "import zooft_classify.task as tk;"
        "t = tk.ClassifyTask(); t.postprocess(np.eye(3), ['a', 'b', 'c'], 2);"
        "t.class_weights(zooft.LabeledData(['a', 'b'], {'train': [zooft.Example('x', 0), zooft.Example('y', 1)]}),"
        " 'balanced');"
        "m.classification_metrics([0, 1], [[0.9, 0.1], [0.2, 0.8]], ['a', 'b']);"
        "bad = [name for name in ('tensorflow', 'keras') if name in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
