"""Registers the ``tflite`` export format. TensorFlow is imported only by the factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import zooft

# Kept here (not in exporter.py) so listing options never imports TensorFlow.
QUANTIZE_MODES = ("none", "float16", "dynamic", "int8", "int8-full")
IO_TYPES = ("uint8", "int8", "float32")  # int8-full input/output; the first is the default
# Detection only: the SSD post-processing as TFLite's TFLite_Detection_PostProcess op (what
# MediaPipe / the Task Library run), or raw boxes + scores with host-side NMS.
POSTPROCESS_MODES = ("op", "raw")


def _factory() -> Any:
    from .exporter import TFLiteExporter

    return TFLiteExporter()


@zooft.hookimpl
def zooft_register_exporters(register: Callable[[zooft.ExporterInfo], None]) -> None:
    """Register ``tflite`` with its ``quantize``, ``io_type`` and ``postprocess`` (detection) options."""
    register(
        zooft.ExporterInfo(
            name="tflite",
            factory=_factory,
            options={"quantize": QUANTIZE_MODES, "io_type": IO_TYPES, "postprocess": POSTPROCESS_MODES},
            description="LiteRT / TensorFlow Lite flatbuffer for mobile and edge (quantize: " + ", ".join(QUANTIZE_MODES) + ")",
            extension=".tflite",
        )
    )
