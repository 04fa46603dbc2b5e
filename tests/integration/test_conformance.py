"""``zooft.testing.check_plugin`` on first-party plugins, the example plugin and zooft's own outside
plugin (tests/plugins/zooft-plugin-regress), and on a plugin that breaks the contract.

The first-party checks share one work directory, so one tiny classify run (embedded backbone,
32 px, one epoch per phase) serves the classify task and every exporter plugin. Nothing is
downloaded: the ``hub`` and ``bert`` zoos are remote, so their checks get a local entry in a user
registry file (``ZOOFT_REGISTRY``) holding a model the suite builds itself (the builders of
test_hub_backbone.py and test_text.py); the ``text`` task trains on that tiny BERT.
"""

from __future__ import annotations

import os
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


def _user_registry(path: Path, models: dict[str, dict[str, object]]) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({"version": 1, "models": models}), encoding="utf-8")
    return path


@pytest.mark.slow
def test_detect_plugin_conforms(shared: Path) -> None:
    """On the embedded backbone at 64 px. Detection parity compares the confident detections of both
    sides, and none is a failure (docs/detection.md), so this run trains on test_detect.py's squares
    until it has some: one 30-epoch fine-tuning phase (its first epoch's tracing costs the most)."""
    pytest.importorskip("pycocotools")
    sys.path.insert(0, str(ROOT / "tests" / "integration"))
    from test_detect import write_shapes_coco

    data = shared / "squares"
    if not data.exists():
        write_shapes_coco(data, seed=0, counts=(24, 6, 6))
    with isolated_host(["images", "coco", "keras", "detect", "savedmodel", "tflite", "onnx"]):
        report = check_plugin("detect", data={"detect": data}, workdir=shared, image_size=64,
                              tune_args={"detect": ["--epochs", "0", "--fine-tune-epochs", "30", "--lr", "0.01"]})
    assert "task detect: tune on embedded" in report.checked and "task detect: predict --json" in report.checked
    for fmt in ("savedmodel", "tflite", "onnx"):
        assert f"task detect: export {fmt}" in report.checked and f"task detect: predict on the {fmt} artifact" in report.checked
    assert report.failures == [] and report.skipped == []


@pytest.mark.slow
def test_hub_plugin_conforms(shared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tensorflow_hub")
    sys.path.insert(0, str(ROOT / "tests" / "integration"))
    import hub_fixtures as hf

    model = shared / "hub-model"
    if not model.exists():
        hf.write_hub_model(model)
    zoo = _user_registry(shared / "hub-zoo.yaml", {"hub:conformance_tiny": {
        "locator": str(model), "weights": "hub", "input_size": hf.SIZE, "preprocessing": "unit", "tasks": ["classify"]}})
    with isolated_host(["hub"]):
        monkeypatch.setenv("ZOOFT_REGISTRY", str(zoo))
        report = check_plugin("hub", workdir=shared)
    # built from the local SavedModel (a hub model refuses random weights: built with its own);
    # the packaged zoo, remote, must refuse to build offline without its weights
    assert "backbone hub:conformance_tiny" in report.checked
    assert any(c.startswith("backbone hub:") and c.endswith("offline without its weights") for c in report.checked)
    assert report.failures == []


@pytest.mark.slow
def test_text_and_bert_plugins_conform(shared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("keras_hub")
    from zooft.demo.text import demo_vocabulary
    from zooft_bert.presets import write_tiny_preset

    preset = shared / "tiny_bert"
    if not preset.exists():
        write_tiny_preset(preset, demo_vocabulary(), num_layers=2, hidden_dim=32, intermediate_dim=64, max_sequence_length=32)
    zoo = _user_registry(shared / "bert-zoo.yaml", {"bert:conformance_tiny": {
        "locator": str(preset), "weights": {"file": str(preset)}, "modality": "text", "tasks": ["text-classify"]}})
    with isolated_host(["text", "bert", "savedmodel", "tflite", "onnx"]):
        monkeypatch.setenv("ZOOFT_REGISTRY", str(zoo))
        bert = check_plugin("bert", workdir=shared)
        text = check_plugin("text", backbone=f"bert:{preset}", workdir=shared)
    assert "backbone bert:conformance_tiny" in bert.checked and bert.failures == []
    assert any(c.startswith("backbone bert:") and c.endswith("offline without its weights") for c in bert.checked)
    assert {"data format text-csv", "data format text-jsonl", "data format text-folder"} <= set(text.checked)
    for fmt in ("savedmodel", "tflite", "onnx"):
        assert f"task text-classify: predict on the {fmt} artifact" in text.checked
    assert "task text-classify: predict" in text.checked and text.failures == [] and text.skipped == []


@pytest.fixture(scope="module")
def regress_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sys.path.insert(0, str(ROOT / "tests" / "integration"))
    from test_outside_plugin import _install

    target = tmp_path_factory.mktemp("site") / "regress"
    _install(ROOT / "tests" / "plugins" / "zooft-plugin-regress", target)
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
