"""Quantized-export gates judge quality, not ties: a low-confidence model whose near-ties flip
passes when its accuracy holds; an export that really drifts fails."""

from __future__ import annotations

import numpy as np
import pytest

from zooft.exports import parity

CLASSES = [f"c{i}" for i in range(10)]


def _int8_gates() -> dict[str, float]:
    from zooft_tflite.exporter import GATES

    return GATES["int8"]


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _low_confidence_model(rng: np.random.Generator, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of a barely trained 10-class model (right 70 % of the time, many near-ties)
    and the labels."""
    labels = rng.integers(0, 10, n)
    logits = rng.normal(0, 0.3, (n, 10))
    right = rng.random(n) < 0.7
    logits[np.arange(n)[right], labels[right]] += rng.uniform(0.05, 2.0, right.sum())
    return _softmax(logits), labels


def test_near_tie_flips_of_a_low_confidence_model_pass() -> None:
    rng = np.random.default_rng(0)
    ref, labels = _low_confidence_model(rng)
    # what int8 does to such a model: output steps of 1/256 plus small noise, enough to flip ties
    cand = np.round((ref + rng.normal(0, 0.01, ref.shape)) * 256) / 256
    metrics = parity.compare({"p": ref}, {"p": cand}, task="classify", labels=labels, classes=CLASSES)
    assert metrics["top1_agreement"] < 0.95  # the old gate refused this export
    assert abs(metrics["accuracy_drop"]) < 0.03 and metrics["confident_rows"] >= 20
    report = parity.build_report("tflite", {"p": ref}, {"p": cand}, task="classify", gates=_int8_gates(),
                                 labels=labels, classes=CLASSES)
    assert report.passed, report.reason
    assert report.metrics["confident_top1_agreement"] >= 0.95


@pytest.mark.parametrize("drift", ["perturbed", "permuted"])
def test_a_really_drifting_export_fails(drift: str) -> None:
    rng = np.random.default_rng(1)
    ref, labels = _low_confidence_model(rng)
    if drift == "perturbed":  # e.g. corrupted weights: outputs far from the reference's
        cand = _softmax(np.log(ref) + rng.normal(0, 2.0, ref.shape))
    else:  # classes mixed up: confident answers move to the wrong class
        cand = ref[:, ::-1]
    report = parity.build_report("tflite", {"p": ref}, {"p": cand}, task="classify", gates=_int8_gates(),
                                 labels=labels, classes=CLASSES)
    assert not report.passed
    assert "confident_top1_agreement" in report.reason and "accuracy_drop" in report.reason


def test_confident_agreement_is_skipped_without_confident_rows_and_accuracy_still_gates() -> None:
    ref = np.full((4, 3), 1 / 3)
    ref[:, 0] += 0.01
    metrics = parity.compare({"p": ref}, {"p": ref[:, ::-1]}, task="classify", labels=[0, 0, 0, 0], classes=["a", "b", "c"])
    assert metrics["confident_top1_agreement"] is None and metrics["confident_rows"] == 0
    passed, reason, skipped = parity.check(metrics, _int8_gates())
    assert not passed and skipped == ["confident_top1_agreement"] and "accuracy_drop 1 > 0.03" in reason
    # and without labels nothing can be judged: the export is refused, not waved through
    metrics = parity.compare({"p": ref}, {"p": ref}, task="classify", classes=["a", "b", "c"])
    assert not parity.check(metrics, _int8_gates())[0]


def test_confident_rows_use_the_margin_between_the_top_two() -> None:
    ref = np.array([[0.5, 0.45, 0.05], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    assert parity.confident_rows(ref).tolist() == [False, True, True]
    assert parity.confident_top1_agreement(ref, ref[:, [1, 0, 2]]) == 0.5
