"""``zooft.testing.check_plugin`` on first-party plugins, the example plugin and zooft's own outside
plugin (tests/plugins/zooft-plugin-regress), and on a plugin that breaks the contract.

The first-party checks share one work directory, so one tiny classify run (embedded backbone,
32 px, one epoch per phase) serves the classify task and every exporter plugin.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from zooft.testing import ConformanceError, check_plugin, isolated_host

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _onednn_off(monkeypatch: pytest.MonkeyPatch) -> None:
    # TensorFlow 2.21's oneDNN kernels crash small conv nets natively (docs/training.md)
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("conformance")


@pytest.mark.slow
def test_data_format_and_backbone_plugins_conform(shared: Path) -> None:
    with isolated_host(["images", "coco", "keras", "classify", "detect"]):
        assert check_plugin("images", workdir=shared).failures == []
        assert check_plugin("coco", workdir=shared).failures == []
        report = check_plugin("keras", workdir=shared)
        assert any(c.startswith("backbone keras:") for c in report.checked)


@pytest.mark.slow
def test_classify_and_exporter_plugins_conform(shared: Path) -> None:
    with isolated_host(["images", "keras", "classify", "savedmodel", "tflite", "onnx"]):
        report = check_plugin("classify", workdir=shared)
        assert "task classify: export tflite" in report.checked and "task classify: predict" in report.checked
        for exporter in ("savedmodel", "tflite", "onnx"):
            assert any("bench" in c for c in check_plugin(exporter, workdir=shared).checked)


@pytest.fixture(scope="module")
def regress_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
           "--no-build-isolation", "--target", str(target), str(ROOT / "tests" / "plugins" / "zooft-plugin-regress")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return target


@pytest.fixture
def regress_importable(regress_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(regress_site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(regress_site), os.environ.get("PYTHONPATH", "")]))
    yield regress_site


@pytest.mark.slow
def test_outside_plugin_conforms(regress_importable: Path, tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests" / "integration"))
    from test_outside_plugin import write_values

    csv = write_values(tmp_path / "values")
    with isolated_host(["regress", "images", "classify", "savedmodel", "tflite", "onnx", "keras"]):
        report = check_plugin("regress", data={"regress": csv, "regress-csv": csv}, workdir=tmp_path / "work",
                              exporters=("savedmodel", "tflite"))
    assert "task regress: tune on smallconv:tiny" in report.checked
    assert "exporter npz: bench" in report.checked and report.failures == []


@pytest.mark.slow
def test_example_plugin_backbone_conforms(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib

    monkeypatch.syspath_prepend(str(ROOT / "examples" / "zooft-plugin-example"))
    plugin = importlib.import_module("zooft_plugin_example.plugin")
    with isolated_host(["classify"], objects=[("example", plugin)]) as host:
        host.records["example"].module = "zooft_plugin_example.plugin"
        monkeypatch.setenv("PYTHONPATH", str(ROOT / "examples" / "zooft-plugin-example"))
        report = check_plugin("example", workdir=tmp_path)
    assert "backbone tinycnn:tiny32" in report.checked


class BadBackbonePlugin:
    """Breaks the contract: its backbone has no preprocessing-friendly input and no layer groups."""

    @staticmethod
    def build(spec: object, **_: object) -> object:
        import keras

        import zooft

        inputs = keras.Input((32, 32, 1), name="image")
        model = keras.Model(inputs, {"pooled": keras.layers.GlobalAveragePooling2D()(inputs)})
        return zooft.Backbone(model=model, spec=spec, input_size=(32, 32))  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_nonconforming_plugin_is_told_what_to_change(tmp_path: Path) -> None:
    import zooft

    class Plugin:
        @zooft.hookimpl
        def zooft_register_backbones(self, register: object) -> None:
            register(zooft.BackboneSource(name="bad", factory=BadBackbonePlugin.build))  # type: ignore[operator]

        @zooft.hookimpl
        def zooft_registry_files(self) -> list[Path]:
            path = tmp_path / "bad.yaml"
            path.write_text("version: 1\nmodels:\n  bad:net:\n    locator: x\n    input_size: 32\n", encoding="utf-8")
            return [path]

    with isolated_host([], objects=[("bad", Plugin())]) as host:
        host.records["bad"].module = "zooft.testing"  # an importable, TensorFlow-free module
        with pytest.raises(ConformanceError) as info:
            check_plugin("bad", workdir=tmp_path)
    message = str(info.value)
    assert "plugin 'bad' fails" in message and "input shape (None, 32, 32, 1)" in message
    assert "take raw images (None, h, w, 3)" in message
