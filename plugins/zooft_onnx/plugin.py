"""Registers the ``onnx`` export format. TensorFlow and tf2onnx are imported only by the factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import zooft


def _factory() -> Any:
    from .exporter import OnnxExporter

    return OnnxExporter()


@zooft.hookimpl
def zooft_register_exporters(register: Callable[[zooft.ExporterInfo], None]) -> None:
    """Register ``onnx`` with its free-form ``opset`` option (an integer, checked by the exporter)."""
    register(
        zooft.ExporterInfo(
            name="onnx",
            factory=_factory,
            options={"opset": None},
            description="ONNX for onnxruntime and other ONNX runtimes (opset 13-18, default 17)",
            extension=".onnx",
        )
    )
