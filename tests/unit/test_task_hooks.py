"""The optional task hooks (zooft/task.py): the host uses them when a task has them."""

from __future__ import annotations

import numpy as np
import pytest

from zooft.exports import parity
from zooft.data.records import Example
from zooft.task import export_inputs, export_model, task_dataset


class PlainTask:
    name = "plain"

    def targets(self, examples, num_classes):
        return [ex.label for ex in examples]


class HookedTask(PlainTask):
    name = "hooked"

    def __init__(self):
        self.calls = []

    def make_dataset(self, examples, targets, **kwargs):
        self.calls.append(("make_dataset", targets, kwargs))
        return "dataset"

    def export_model(self, model, format, metadata):
        metadata["vocabulary"] = ["[PAD]", "a"]
        return (model, format)

    def export_inputs(self, raw, metadata):
        return np.asarray([len(t) for t in raw], dtype=np.int32)

    def parity(self, reference, candidate, *, labels, targets, classes, format, quantize, **kwargs):
        agree = float(np.mean(reference["boxes"] == candidate["boxes"]))
        return {"box_agreement": agree, "score_diff": parity.max_abs(reference["scores"], candidate["scores"])}, {
            "box_agreement": 0.85 if quantize else 1.0,
            "score_diff": 0.01,
        }


def test_task_dataset_prefers_the_task_pipeline():
    task = HookedTask()
    examples = [Example("a", 0), Example("b", 1)]
    config = {"augment": "flip"}
    out = task_dataset(task, examples, num_classes=2, config=config, image_size=None, batch_size=4, training=True, shuffle_seed=3)
    assert out == "dataset"
    _, targets, kwargs = task.calls[0]
    assert targets == [0, 1]
    assert kwargs == {
        "config": config, "image_size": None, "batch_size": 4, "training": True, "shuffle_seed": 3, "cache": None,
    }


def test_export_hooks_default_to_identity_and_may_add_metadata():
    metadata: dict = {}
    raw = np.zeros((2, 4, 4, 3), np.float32)
    assert export_model(PlainTask(), "model", "tflite", metadata) == "model" and metadata == {}
    assert export_inputs(PlainTask(), raw, metadata) is raw
    assert export_model(HookedTask(), "model", "onnx", metadata) == ("model", "onnx")
    assert metadata == {"vocabulary": ["[PAD]", "a"]}
    assert export_inputs(HookedTask(), np.asarray(["ab", "c"], dtype=object), metadata).tolist() == [2, 1]


def _outputs(boxes, scores):
    return {"boxes": np.asarray(boxes, np.float32), "scores": np.asarray(scores, np.float32)}


def test_task_parity_hook_replaces_metrics_and_gates():
    ref = _outputs([[0, 0, 1, 1], [0, 0, 2, 2]], [0.9, 0.8])
    same = parity.build_report("onnx", ref, ref, task=HookedTask(), gates={"max_abs": 1e-9})
    assert same.passed and same.thresholds == {"box_agreement": 1.0, "score_diff": 0.01}
    assert "max_abs" not in same.metrics  # the task's metrics, not the classification/numeric ones
    moved = _outputs([[0, 0, 1, 1], [0, 0, 2, 3]], [0.9, 0.8])
    strict = parity.build_report("tflite", ref, moved, task=HookedTask(), gates={}, quantize=None)
    assert not strict.passed and "box_agreement 0.875 < 1 (minimum)" in strict.reason
    lenient = parity.build_report("tflite", ref, moved, task=HookedTask(), gates={}, quantize="int8")
    assert lenient.passed
    # --tolerance applies to task gates too: minimums become 1 - tolerance, maximums tolerance
    tol = parity.build_report("tflite", ref, moved, task=HookedTask(), gates={}, tolerance=0.2)
    assert tol.passed and tol.thresholds == pytest.approx({"box_agreement": 0.8, "score_diff": 0.2})


def test_task_object_without_parity_hook_gets_the_named_task_metrics():
    probs = np.asarray([[0.9, 0.1], [0.2, 0.8]], np.float32)
    report = parity.build_report("onnx", {"probs": probs}, {"probs": probs}, task=PlainTask(), gates={"max_abs": 1e-4})
    assert report.passed and report.metrics["max_abs"] == 0.0


@pytest.mark.parametrize(("gate", "lower"), [("top1_agreement", True), ("box_agreement", True), ("min_iou", True),
                                             ("accuracy_drop", False), ("max_abs", False)])
def test_gate_direction(gate, lower):
    assert parity.is_lower_bound(gate) is lower
