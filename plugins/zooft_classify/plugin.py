"""Entry point ``classify = "zooft_classify.plugin"``: registers the ``classify`` task."""

from __future__ import annotations

from collections.abc import Callable

import zooft

from .task import ClassifyTask


@zooft.hookimpl
def zooft_register_tasks(register: Callable[[zooft.TaskInfo], None]) -> None:
    """Register the ``classify`` task (image backbones with a pooled feature vector)."""
    register(
        zooft.TaskInfo(
            name="classify",
            factory=ClassifyTask,
            modalities=("image",),
            requires="pooled",
            description="Single-label image classification: softmax head on pooled features,"
            " accuracy, top-k, per-class F1 and a confusion matrix",
        )
    )
