"""Registers the ``tflite`` export format. TensorFlow is imported only by the factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import zooft

from .options import IO_TYPES, POSTPROCESS_MODES, QUANTIZE_MODES, TEXT_INPUTS


def _factory() -> Any:
    from .exporter import TFLiteExporter

    return TFLiteExporter()


@zooft.hookimpl
def zooft_register_exporters(register: Callable[[zooft.ExporterInfo], None]) -> None:
    """Register ``tflite`` with its ``quantize``, ``io_type``, ``text_inputs`` (text) and ``postprocess`` (detection) options."""
    register(
        zooft.ExporterInfo(
            name="tflite",
            factory=_factory,
            options={"quantize": QUANTIZE_MODES, "io_type": IO_TYPES, "text_inputs": TEXT_INPUTS, "postprocess": POSTPROCESS_MODES},
            description="LiteRT / TensorFlow Lite flatbuffer for mobile and edge (quantize: " + ", ".join(QUANTIZE_MODES) + ")",
            extension=".tflite",
        )
    )
