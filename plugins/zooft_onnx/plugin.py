"""Registers the ``onnx`` export format. TensorFlow and tf2onnx are imported only by the factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import zooft

INPUT_TYPES = ("float32", "uint8")  # the image input's dtype; the first is the default


def _factory() -> Any:
    from .exporter import OnnxExporter

    return OnnxExporter()


@zooft.hookimpl
def zooft_register_exporters(register: Callable[[zooft.ExporterInfo], None]) -> None:
    """Register ``onnx`` with its free-form ``opset`` option (an integer, checked by the exporter)
    and ``input_type`` (``uint8``: decoded pixels in, cast inside the graph)."""
    register(
        zooft.ExporterInfo(
            name="onnx",
            factory=_factory,
            options={"opset": None, "input_type": INPUT_TYPES},
            description="ONNX for onnxruntime and other ONNX runtimes (opset 13-18, default 17; input_type float32 or uint8)",
            extension=".onnx",
        )
    )
