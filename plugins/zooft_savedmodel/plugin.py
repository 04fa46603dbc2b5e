"""Registers the ``savedmodel`` export format. TensorFlow is imported only by the factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import zooft


def _factory() -> Any:
    from .exporter import SavedModelExporter

    return SavedModelExporter()


@zooft.hookimpl
def zooft_register_exporters(register: Callable[[zooft.ExporterInfo], None]) -> None:
    """Register ``savedmodel`` (no options)."""
    register(
        zooft.ExporterInfo(
            name="savedmodel",
            factory=_factory,
            options={},
            description="TensorFlow SavedModel for TF Serving / TF.js; signatures serving_default (float32) and serving_uint8",
            extension="",
        )
    )
