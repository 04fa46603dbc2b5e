"""zooft: fine-tune pretrained TensorFlow models on your own data and ship them.

This module is the public API that plugins and users code against. Importing it never
imports TensorFlow.
"""

from __future__ import annotations

from typing import Any

from .backbone import FEATURE_LEVELS, Backbone
from .data.records import Example, LabeledData
from .errors import (
    ConfigError,
    DataError,
    ExportError,
    OfflineError,
    ParityError,
    PluginError,
    RegistryError,
    RunError,
    UnknownModelError,
    WeightsError,
    ZooftError,
)
from .exporting import ExportContext, Exporter, ParityReport
from .plugins import hookimpl
from .specs import BackboneSource, DatasetFormat, ExporterInfo, ModelSpec, TaskInfo, WeightsSpec
from .task import Task
from .tfruntime import configure as _configure_tensorflow

try:
    # before anything imports TensorFlow: its oneDNN variables are read when it loads
    _configure_tensorflow()
except ZooftError:
    pass  # a bad ZOOFT_ONEDNN is reported by the CLI and by tune()/export()

__version__ = "0.1.0"

__all__ = [
    "FEATURE_LEVELS",
    "Backbone",
    "BackboneSource",
    "ConfigError",
    "DataError",
    "DatasetFormat",
    "Example",
    "ExportContext",
    "ExportError",
    "Exporter",
    "ExporterInfo",
    "LabeledData",
    "ModelSpec",
    "OfflineError",
    "ParityError",
    "ParityReport",
    "PluginError",
    "RegistryError",
    "RunError",
    "Task",
    "TaskInfo",
    "UnknownModelError",
    "WeightsError",
    "WeightsSpec",
    "ZooftError",
    "__version__",
    "export",
    "hookimpl",
    "list_models",
    "load_artifact",
    "load_run",
    "tune",
]


def list_models(
    pattern: str | None = None, *, task: str | None = None, source: str | None = None, tag: str | None = None
) -> list[ModelSpec]:
    """Registry entries matching a wildcard ``pattern``, ``task``, ``source`` and ``tag``."""
    from .registry import load_registry

    return load_registry().list(pattern, task=task, source=source, tag=tag)


def tune(**options: Any) -> Any:
    """Fine-tune a model; the same options as ``zooft tune`` (``backbone=``, ``task=``, ``data=`` …).

    Returns the finished :class:`zooft.runs.Run`.
    """
    from .train.tune import tune as _tune

    _configure_tensorflow()
    return _tune(options)


def export(run: Any, format: str, **options: Any) -> Any:  # noqa: A002 - mirrors the CLI flag
    """Export a finished run (a path or :class:`zooft.runs.Run`) to ``format``.

    Returns ``{format, name, path, artifact, size_bytes, options, parity}``; a failed parity
    check raises :class:`ParityError`."""
    from .exports import export_run

    _configure_tensorflow()
    return export_run(run, format, options)


def load_artifact(path: Any) -> Any:
    """Open an exported artifact (.tflite, .onnx, SavedModel dir) in its own runtime."""
    from .artifacts import load_artifact as _load

    return _load(path)


def load_run(path: Any) -> Any:
    """Open a run directory written by :func:`tune`."""
    from .runs import Run

    return Run.open(path)
