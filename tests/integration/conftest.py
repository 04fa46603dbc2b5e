"""Session fixtures shared by the export test modules: one trained classifier run and its TFLite
exports, made once per test session (training and converting are the slow part)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

_spec = importlib.util.spec_from_file_location("export_fixtures", Path(__file__).with_name("export_fixtures.py"))
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)  # type: ignore[union-attr]

# every TFLite variant, by export directory name
TFLITE_VARIANTS: dict[str, dict[str, Any]] = {
    "tflite": {},
    "tflite-float16": {"quantize": "float16"},
    "tflite-dynamic": {"quantize": "dynamic"},
    "tflite-int8": {"quantize": "int8"},
    "tflite-int8-full": {"quantize": "int8-full"},  # uint8 input/output by default
    "tflite-int8-full-int8": {"quantize": "int8-full", "io_type": "int8"},
    "tflite-int8-full-float32": {"quantize": "int8-full", "io_type": "float32"},
}


@pytest.fixture(scope="session")
def trained_export_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """export_fixtures.write_run's run (a really trained small CNN) plus ``run``, its path."""
    root = tmp_path_factory.mktemp("export-runs") / "tiny"
    info = fx.write_run(root)
    info["run"] = root
    return info


@pytest.fixture(scope="session")
def tflite_exports_of_trained_run(trained_export_run: dict[str, Any]) -> dict[str, Any]:
    """Each TFLite variant exported once through the host: ``{name: summary}``, or the
    ``ZooftError`` it raised (re-raised by the test that looks at that variant)."""
    import zooft
    import zooft_classify.plugin
    import zooft_tflite.plugin
    from zooft.exports.run import export_run
    from zooft.plugins import PluginHost, reset_host

    reset_host(PluginHost(autoload=False, plugins=[("classify", zooft_classify.plugin), ("tflite", zooft_tflite.plugin)]))
    results: dict[str, Any] = {}
    try:
        for name, options in TFLITE_VARIANTS.items():
            try:
                results[name] = export_run(trained_export_run["run"], "tflite", options)
            except zooft.ZooftError as exc:
                results[name] = exc
    finally:
        reset_host()
    return results
