"""zooft.testing's fixtures and helpers, and the task/backbone compatibility rules (no TensorFlow)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import zooft
from zooft.data.formats import load_data
from zooft.task import GEOMETRIC_AUGMENTS, check_backbone, geometric_augmentation_allowed, required_outputs


class RegressPlugin:
    @zooft.hookimpl
    def zooft_register_tasks(self, register: Callable[[zooft.TaskInfo], None]) -> None:
        register(zooft.TaskInfo(name="regress", factory=object, target_kind="value", geometric_augmentation=False))


def test_zooft_host_fixture_isolates_plugins_and_home(zooft_host: Any, tmp_path: Path) -> None:
    before = os.environ.get("ZOOFT_HOME")
    host = zooft_host("classify", objects=(("regress", RegressPlugin()),))
    assert set(host.records) == {"classify", "regress"} and host.errors() == []
    assert os.environ["ZOOFT_HOME"] == str(tmp_path / "zooft-home")
    assert zooft.cache_root() == tmp_path / "zooft-home"
    assert not geometric_augmentation_allowed(object(), {"task": "regress"})
    assert geometric_augmentation_allowed(object(), {"task": "classify"})
    assert os.environ.get("ZOOFT_HOME") != before or before is None


def test_isolated_host_restores_the_environment() -> None:
    saved = os.environ.get("ZOOFT_PLUGINS")
    with zooft.testing.isolated_host(["images"]) as host:
        assert list(host.records) == ["images"]
    assert os.environ.get("ZOOFT_PLUGINS") == saved


def test_zooft_data_fixture_writes_every_builtin_shape(zooft_data: Any, zooft_host: Any) -> None:
    zooft_host("images", "coco", "text", "classify", "detect")
    folder = zooft_data.image_folder(per_class=2, size=16)
    assert load_data(str(folder), task="classify", val_split=0.0).format == "image-folder"
    assert load_data(str(zooft_data.image_csv(per_class=2, size=16)), task="classify", val_split=0.0).format == "csv"
    assert load_data(str(zooft_data.coco(images=24, size=32)), task="detect", val_split=0.0).format == "coco"
    assert load_data(str(zooft_data.text_csv(per_class=3)), task="text-classify", val_split=0.0).format == "text-csv"


def _backbone(outputs: tuple[str, ...], modality: str = "image") -> zooft.Backbone:
    model = SimpleNamespace(output=dict.fromkeys(outputs))
    spec = zooft.ModelSpec(name="x:y", source="x", locator="y", weights=zooft.WeightsSpec("none"))
    return zooft.Backbone(model=model, spec=spec, input_size=(32, 32), modality=modality)


def test_any_backbone_with_the_required_outputs_serves_a_task() -> None:
    detect = zooft.TaskInfo(name="detect", factory=object, requires="feature_maps")
    assert required_outputs("feature_maps") == ("stride8", "stride16", "stride32")
    assert required_outputs(("pooled", "stride8")) == ("pooled", "stride8")
    check_backbone(detect, _backbone(("pooled", "stride8", "stride16", "stride32")))
    with pytest.raises(zooft.ConfigError, match=r"backbone x:y lacks the output\(s\) stride8, stride16, stride32 that task 'detect' needs"):
        check_backbone(detect, _backbone(("pooled",)))
    with pytest.raises(zooft.ConfigError, match="task 'detect' takes image backbones; x:y is text"):
        check_backbone(detect, _backbone(("pooled",), "text"))
    assert GEOMETRIC_AUGMENTS == {"flip", "zoom", "rotation", "translate"}


def test_embedded_entry_lists_tasks_as_a_hint_not_a_gate(zooft_host: Any) -> None:
    from zooft.registry import load_registry
    from zooft.train.tune import check_task

    host = zooft_host("classify", "keras", objects=(("regress", RegressPlugin()),))
    spec = load_registry(host=host).resolve("embedded")
    assert "regress" not in spec.tasks
    check_task(spec, "regress")  # no error: the backbone's outputs are checked once it is built
