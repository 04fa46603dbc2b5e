"""Entry point ``classify = "zooft_classify.plugin"``: registers the ``classify`` task."""

from __future__ import annotations

from collections.abc import Callable

from typing import Any

import zooft


def _make_task() -> Any:
    # imported on use: the task module needs numpy, which 'zooft list-models' should not load
    from .task import ClassifyTask

    return ClassifyTask()


@zooft.hookimpl
def zooft_register_tasks(register: Callable[[zooft.TaskInfo], None]) -> None:
    """Register the ``classify`` task (image backbones with a pooled feature vector)."""
    register(
        zooft.TaskInfo(
            name="classify",
            factory=_make_task,
            modalities=("image",),
            requires="pooled",
            options={},  # none of its own: the host's settings (dropout, label_smoothing …) cover it
            description="Single-label image classification: softmax head on pooled features,"
            " accuracy, top-k, per-class F1 and a confusion matrix",
        )
    )
