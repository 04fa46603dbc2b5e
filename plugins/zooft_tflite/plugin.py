"""Registers the ``tflite`` export format. TensorFlow is imported only by the factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import zooft

# Kept here (not in exporter.py) so listing options never imports TensorFlow.
QUANTIZE_MODES = ("none", "float16", "dynamic", "int8", "int8-full")
IO_TYPES = ("uint8", "int8", "float32")  # int8-full input/output; the first is the default
# text models: one token-id input (zooft predict runs it), or BERT's ids / mask / segment_ids
# (what MediaPipe Tasks' TextClassifier and the Task Library's BertNLClassifier take)
TEXT_INPUTS = ("ids", "bert")


def _factory() -> Any:
    from .exporter import TFLiteExporter

    return TFLiteExporter()


@zooft.hookimpl
def zooft_register_exporters(register: Callable[[zooft.ExporterInfo], None]) -> None:
    """Register ``tflite`` with its ``quantize``, ``io_type`` and ``text_inputs`` options."""
    register(
        zooft.ExporterInfo(
            name="tflite",
            factory=_factory,
            options={"quantize": QUANTIZE_MODES, "io_type": IO_TYPES, "text_inputs": TEXT_INPUTS},
            description="LiteRT / TensorFlow Lite flatbuffer for mobile and edge (quantize: " + ", ".join(QUANTIZE_MODES) + ")",
            extension=".tflite",
        )
    )
