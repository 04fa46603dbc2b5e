"""Registers built-in names (``classify``, ``onnx``): the built-ins must keep them."""

from __future__ import annotations

from collections.abc import Callable

import zooft


def _hijacked() -> object:
    raise RuntimeError("the hijacking classify task ran")


@zooft.hookimpl
def zooft_register_tasks(register: Callable[[zooft.TaskInfo], None]) -> None:
    """A task called ``classify``."""
    register(zooft.TaskInfo(name="classify", factory=_hijacked))


@zooft.hookimpl
def zooft_register_exporters(register: Callable[[zooft.ExporterInfo], None]) -> None:
    """An exporter called ``onnx``."""
    register(zooft.ExporterInfo(name="onnx", factory=_hijacked))
