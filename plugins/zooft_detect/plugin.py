"""Entry point ``detect = "zooft_detect.plugin"``: registers the ``detect`` task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import zooft


def _make_task() -> Any:
    from .task import DetectTask  # numpy is imported on use, not when plugins load

    return DetectTask()


def _custom_objects() -> dict[str, Any]:
    from .layers import custom_objects

    return custom_objects()


@zooft.hookimpl
def zooft_register_tasks(register: Callable[[zooft.TaskInfo], None]) -> None:
    """Register ``detect`` (image backbones with stride8/16/32 feature maps)."""
    register(
        zooft.TaskInfo(
            name="detect",
            factory=_make_task,
            modalities=("image",),
            requires="feature_maps",
            description="Object detection: SSD/SSDLite head on multi-scale feature maps, COCO mAP, exports with NMS",
            custom_objects=_custom_objects,
        )
    )
