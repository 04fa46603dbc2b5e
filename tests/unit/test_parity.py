"""zooft.exports.parity: the comparison maths every exporter's verify step relies on (no TensorFlow)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from zooft import ParityReport
from zooft.exports import parity

CLASSES = ["a", "b", "c"]


def probs(rows: list[list[float]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32)


REF = probs([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.5, 0.4, 0.1]])


def test_as_output_dict_names_positional_outputs_and_keeps_dict_keys() -> None:
    assert list(parity.as_output_dict(REF, ["probabilities"])) == ["probabilities"]
    out = parity.as_output_dict([REF, REF[:, :1]], ["p", "q"])
    assert out["q"].shape == (4, 1)
    # dict outputs are keyed by their own names, whatever order the runtime used
    keyed = parity.as_output_dict({"z": REF, "a": REF}, ["ignored"])
    assert set(keyed) == {"z", "a"}
    with pytest.raises(ValueError, match="2 output names"):
        parity.as_output_dict(REF, ["p", "q"])


def test_max_abs_rel_and_mean() -> None:
    cand = REF.copy()
    cand[0, 0] += 0.01
    assert parity.max_abs(REF, cand) == pytest.approx(0.01, abs=1e-6)
    assert parity.mean_abs(REF, cand) == pytest.approx(0.01 / REF.size, abs=1e-7)
    assert parity.max_rel(REF, cand) == pytest.approx(0.01 / 0.8, rel=1e-4)
    # the epsilon keeps relative error finite when the reference is exactly zero
    assert math.isfinite(parity.max_rel(np.zeros(3), np.full(3, 1e-3)))
    assert parity.max_abs(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0


def test_non_finite_outputs_give_nan_and_fail_the_gate() -> None:
    cand = REF.copy()
    cand[1, 2] = np.nan
    assert math.isnan(parity.max_abs(REF, cand))
    metrics = parity.numeric_metrics({"p": REF}, {"p": cand})
    assert math.isnan(metrics["max_abs"])
    passed, reason, _ = parity.check(metrics, {"max_abs": 1e-4})
    assert not passed and "non-finite" in reason


def test_shape_mismatch_and_missing_output_are_errors() -> None:
    with pytest.raises(ValueError, match="shape mismatch"):
        parity.max_abs(REF, REF[:2])
    with pytest.raises(ValueError, match="lacks outputs"):
        parity.numeric_metrics({"p": REF}, {"q": REF})


def test_top1_agreement_and_accuracy() -> None:
    cand = REF.copy()
    cand[3] = [0.4, 0.5, 0.1]  # flips the near-tie row
    assert parity.top1_agreement(REF, cand) == 0.75
    labels = [0, 1, 2, 1]
    assert parity.accuracy(REF, labels) == 0.75
    assert parity.accuracy(cand, labels) == 1.0
    # unlabelled rows (None, negative, multi-label tuples) are ignored
    assert parity.accuracy(REF, [0, None, -1, (1, 2)]) == 1.0
    assert parity.accuracy(REF, [None] * 4) is None


def test_per_class_accuracy() -> None:
    labels = [0, 1, 2, 1]
    assert parity.per_class_accuracy(REF, labels, CLASSES) == {"a": 1.0, "b": 0.5, "c": 1.0}
    assert parity.per_class_accuracy(REF, [0, 0, 0, 0], CLASSES)["b"] is None


def test_classify_metrics_picks_the_class_output_by_shape() -> None:
    ref = {"boxes": np.zeros((4, 7)), "probabilities": REF}
    metrics = parity.compare(ref, dict(ref), task="classify", labels=[0, 1, 2, 1], classes=CLASSES)
    assert metrics["top1_agreement"] == 1.0
    assert metrics["accuracy_reference"] == metrics["accuracy_export"] == 0.75
    assert metrics["accuracy_drop"] == 0.0
    assert metrics["per_class_accuracy"]["b"] == {"reference": 0.5, "export": 0.5}
    # other tasks: numeric diffs only
    assert "top1_agreement" not in parity.compare(ref, dict(ref), task="detect", classes=CLASSES)


def test_check_bounds_and_reason_is_one_line() -> None:
    metrics = {"max_abs": 0.03, "top1_agreement": 0.9}
    passed, reason, _ = parity.check(metrics, {"max_abs": 0.02, "top1_agreement": 0.98})
    assert not passed
    assert "max_abs 0.03 > 0.02 (maximum)" in reason and "top1_agreement 0.9 < 0.98 (minimum)" in reason
    assert "\n" not in reason
    assert parity.check(metrics, {"max_abs": 0.05, "top1_agreement": 0.9}) == (True, "", [])


def test_gates_that_cannot_be_evaluated_are_skipped_but_not_all_of_them() -> None:
    passed, _, skipped = parity.check({"top1_agreement": 1.0}, {"top1_agreement": 0.95, "accuracy_drop": 0.03})
    assert passed and skipped == ["accuracy_drop"]
    passed, reason, _ = parity.check({}, {"accuracy_drop": 0.03})
    assert not passed and "no parity gate" in reason


def test_tolerance_replaces_numeric_gates_first_then_agreement() -> None:
    f16 = {"max_abs": 0.02, "top1_agreement": 0.98}
    assert parity.resolve_gates(f16, task="classify", tolerance=0.1) == {"max_abs": 0.1, "top1_agreement": 0.98}
    int8 = {"top1_agreement": 0.95, "accuracy_drop": 0.03}
    assert parity.resolve_gates(int8, task="classify", tolerance=0.1) == pytest.approx(
        {"top1_agreement": 0.9, "accuracy_drop": 0.1}
    )
    assert parity.resolve_gates(int8, task="classify") == int8
    with pytest.raises(ValueError):
        parity.resolve_gates(f16, task="classify", tolerance=-1)


def test_tasks_without_metrics_fall_back_to_a_normalised_numeric_gate() -> None:
    int8 = {"top1_agreement": 0.95, "accuracy_drop": 0.03}
    assert parity.resolve_gates(int8, task="detect") == parity.NUMERIC_FALLBACK_GATES
    assert parity.resolve_gates(int8, task="detect", tolerance=0.2) == {"max_abs_norm": 0.2}
    logits = {"y": np.array([[0.0, 10.0], [5.0, -10.0]])}
    shifted = {"y": logits["y"] + 0.5}
    assert parity.compare(logits, shifted, task="detect")["max_abs_norm"] == pytest.approx(0.5 / 20)


def test_build_report_passes_and_fails_with_reason() -> None:
    labels = [0, 1, 2, 1]
    good = parity.build_report(
        "tflite", {"p": REF}, {"p": REF + 1e-6}, task="classify", gates={"max_abs": 1e-4}, labels=labels, classes=CLASSES
    )
    assert isinstance(good, ParityReport) and good.passed and good.samples == 4
    assert good.thresholds == {"max_abs": 1e-4}
    assert good.to_dict()["metrics"]["accuracy_reference"] == 0.75
    bad = parity.build_report(
        "tflite", {"p": REF}, {"p": REF[:, ::-1].copy()}, task="classify",
        gates={"top1_agreement": 0.95, "accuracy_drop": 0.03}, labels=labels, classes=CLASSES,
        extra={"runtime": "test"},
    )
    assert not bad.passed and bad.reason.startswith("top1_agreement")
    assert bad.metrics["runtime"] == "test"


def test_module_does_not_import_tensorflow_by_itself() -> None:
    import importlib
    import subprocess

    code = "import zooft.exports.parity, sys; assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=root)
    assert result.returncode == 0, result.stderr
    assert importlib.import_module("zooft.exports.parity") is parity
