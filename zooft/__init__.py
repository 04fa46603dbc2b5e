"""zooft: fine-tune pretrained TensorFlow models on your own data and ship them.

This module is the public API that plugins and users code against: every name in ``__all__``
is documented in docs/plugins.md and kept stable; every other module is private. Importing it
never imports TensorFlow (nor numpy): the helpers for exporters, caches, images and
classification are loaded on first use through the module ``__getattr__`` below.
"""

from __future__ import annotations

import importlib
from typing import Any

from .backbone import FEATURE_LEVELS, Backbone
from .data.files import DataFileError, check_data_file, read_data_file
from .data.records import Example, LabeledData
from .options import Option
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
from .exports.protocol import ExportContext, Exporter, ParityReport
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

# Public helpers loaded on first access: public name -> (private module, attribute).
_LAZY: dict[str, tuple[str, str]] = {
    # exporters: parity reports (zooft/exports/parity.py)
    "Outputs": ("zooft.exports.parity", "Outputs"),
    "build_parity_report": ("zooft.exports.parity", "build_report"),
    "output_dict": ("zooft.exports.parity", "as_output_dict"),
    "numeric_parity": ("zooft.exports.parity", "numeric_metrics"),
    "classify_parity": ("zooft.exports.parity", "classify_metrics"),
    "is_lower_bound_gate": ("zooft.exports.parity", "is_lower_bound"),
    # exporters: what the converters start from (zooft/exports/serving.py)
    "serving_function": ("zooft.exports.serving", "serving_function"),
    "reference_outputs": ("zooft.exports.serving", "reference_outputs"),
    "model_inputs": ("zooft.exports.serving", "model_inputs"),
    "model_input_name": ("zooft.exports.serving", "input_name"),
    "output_names": ("zooft.exports.serving", "output_names"),
    "is_image_model": ("zooft.exports.serving", "is_image_model"),
    "write_saved_model": ("zooft.exports.serving", "write_saved_model"),
    # artifacts in their own runtimes (zooft/exports/artifacts.py)
    "Artifact": ("zooft.exports.artifacts", "Artifact"),
    "load_artifact": ("zooft.exports.artifacts", "load_artifact"),
    "tflite_interpreter": ("zooft.exports.artifacts", "tflite_interpreter"),
    "read_tflite_metadata": ("zooft.exports.artifacts", "read_tflite_metadata"),
    "ARTIFACT_METADATA_KEY": ("zooft.exports.artifacts", "METADATA_KEY"),
    "ARTIFACT_METADATA_FILE": ("zooft.exports.artifacts", "METADATA_FILE"),
    "SAVEDMODEL_DIR": ("zooft.exports.artifacts", "SAVEDMODEL_DIR"),
    # the weights cache (zooft/cache.py)
    "cache_root": ("zooft.cache", "cache_root"),
    "is_offline": ("zooft.cache", "is_offline"),
    "download": ("zooft.cache", "download"),
    "import_file": ("zooft.cache", "import_file"),
    "import_tree": ("zooft.cache", "import_tree"),
    "sha256_file": ("zooft.cache", "sha256_file"),
    "verify_sha256": ("zooft.cache", "verify_sha256"),
    "safe_extract": ("zooft.cache", "safe_extract"),
    "fingerprint_files": ("zooft.cache", "fingerprint_files"),
    # images, decoded as training decodes them (zooft/data/images.py; TensorFlow on call)
    "decode_covering": ("zooft.data.images", "decode_covering"),
    "load_images": ("zooft.data.images", "load_images_for_predict"),
    # what classification tasks share (zooft/classification.py)
    "check_classes": ("zooft.classification", "check_classes"),
    "config_fraction": ("zooft.classification", "config_fraction"),
    "classification_head": ("zooft.classification", "classification_head"),
    "balanced_class_weights": ("zooft.classification", "balanced_class_weights"),
    "single_labels": ("zooft.classification", "single_labels"),
    "collect_predictions": ("zooft.classification", "collect_predictions"),
    "classification_metrics": ("zooft.classification", "classification_metrics"),
    "resolve_top_k": ("zooft.classification", "resolve_top_k"),
    "top_k_predictions": ("zooft.classification", "top_k_predictions"),
}


def __getattr__(name: str) -> Any:
    """Load a lazy public name on first access (PEP 562), then keep it as a plain attribute."""
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'zooft' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    *_LAZY,
    "FEATURE_LEVELS",
    "Backbone",
    "BackboneSource",
    "ConfigError",
    "DataError",
    "DataFileError",
    "DatasetFormat",
    "Example",
    "ExportContext",
    "ExportError",
    "Exporter",
    "ExporterInfo",
    "LabeledData",
    "ModelSpec",
    "OfflineError",
    "Option",
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
    "check_data_file",
    "export",
    "hookimpl",
    "list_models",
    "load_run",
    "read_data_file",
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
    from .exports.run import export_run

    _configure_tensorflow()
    return export_run(run, format, options)


def load_run(path: Any) -> Any:
    """Open a run directory written by :func:`tune`."""
    from .runs import Run

    return Run.open(path)
