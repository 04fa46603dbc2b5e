"""The plugin host: registration of every kind, recorded failures, collisions, entry points and
the environment switches. No TensorFlow: the plugins here are plain objects."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import zooft
from zooft.plugins import PluginHost, get_host, reset_host


def _backbone_factory(spec: zooft.ModelSpec, **options: Any) -> None:
    raise AssertionError("factories are never called at registration")


class EverythingPlugin:
    """Registers one thing of each kind and ships one registry file."""

    def __init__(self, registry_file: Path | None = None, prefix: str = "fake") -> None:
        self.registry_file = registry_file
        self.prefix = prefix

    @zooft.hookimpl
    def zooft_register_backbones(self, register: Callable[[zooft.BackboneSource], None]) -> None:
        register(zooft.BackboneSource(name=f"{self.prefix}src", factory=_backbone_factory, description="fake nets"))

    @zooft.hookimpl
    def zooft_register_tasks(self, register: Callable[[zooft.TaskInfo], None]) -> None:
        register(zooft.TaskInfo(name=f"{self.prefix}-task", factory=object, requires="feature_maps"))

    @zooft.hookimpl
    def zooft_register_exporters(self, register: Callable[[zooft.ExporterInfo], None]) -> None:
        register(zooft.ExporterInfo(name=f"{self.prefix}fmt", factory=object, options={"quantize": ("none", "int8")}))

    @zooft.hookimpl
    def zooft_register_datasets(self, register: Callable[[zooft.DatasetFormat], None]) -> None:
        register(zooft.DatasetFormat(name=f"{self.prefix}-data", sniff=lambda path: False, load=lambda path: None))

    @zooft.hookimpl
    def zooft_registry_files(self) -> list[Path]:
        return [self.registry_file] if self.registry_file else []


class TaskPlugin:
    def __init__(self, name: str) -> None:
        self.name = name

    @zooft.hookimpl
    def zooft_register_tasks(self, register: Callable[[zooft.TaskInfo], None]) -> None:
        register(zooft.TaskInfo(name=self.name, factory=object))


class RaisingPlugin:
    @zooft.hookimpl
    def zooft_register_tasks(self, register: Callable[[zooft.TaskInfo], None]) -> None:
        raise RuntimeError("boom in tasks")

    @zooft.hookimpl
    def zooft_registry_files(self) -> list[str]:
        raise OSError("no package data")


def _write_registry(path: Path) -> Path:
    path.write_text("version: 1\nmodels:\n  fakesrc:one:\n    locator: One\n", encoding="utf-8")
    return path


# -- registration ------------------------------------------------------------------------------
def test_fake_plugin_registers_every_kind(tmp_path: Path) -> None:
    registry_file = _write_registry(tmp_path / "models.yaml")
    host = PluginHost(autoload=False, plugins=[("fake", EverythingPlugin(registry_file))])

    assert host.errors() == []
    assert host.backbone_source("fakesrc").description == "fake nets"
    assert host.task("fake-task").requires == "feature_maps"
    assert host.exporter("fakefmt").options == {"quantize": ("none", "int8")}
    assert host.dataset_format("fake-data").sniff("x") is False
    # the host stamps each item with the plugin that registered it
    for kind in ("backbones", "tasks", "exporters", "datasets"):
        assert [item.plugin for item in host.items[kind].values()] == ["fake"]
    assert host.registry_files == [(registry_file, "fake")]

    record = host.records["fake"]
    assert record.ok
    assert record.builtin is False
    assert record.to_dict()["registered"] == {
        "backbones": ["fakesrc"],
        "tasks": ["fake-task"],
        "exporters": ["fakefmt"],
        "datasets": ["fake-data"],
        "registry_files": [str(registry_file)],
    }


def test_module_plugin_with_a_subset_of_hooks() -> None:
    # Any object with hookimpl-decorated attributes is a plugin, e.g. a module.
    module = type(sys)("fake_module_plugin")

    @zooft.hookimpl
    def zooft_register_backbones(register: Callable[[zooft.BackboneSource], None]) -> None:
        register(zooft.BackboneSource(name="modsrc", factory=_backbone_factory))

    module.zooft_register_backbones = zooft_register_backbones  # type: ignore[attr-defined]
    host = PluginHost(autoload=False, plugins=[("mod", module)])
    assert host.errors() == []
    assert host.backbone_source("modsrc").plugin == "mod"
    assert host.records["mod"].module == "fake_module_plugin"


def test_hook_that_ignores_its_register_argument_is_valid() -> None:
    # pluggy lets an implementation take a subset of the spec's arguments.
    class NoArgs:
        @zooft.hookimpl
        def zooft_register_backbones(self) -> None:
            return None

    host = PluginHost(autoload=False, plugins=[("noargs", NoArgs())])
    assert host.errors() == []
    assert host.records["noargs"].registered == {}


# -- failures are recorded, the others keep working --------------------------------------------
def test_raising_hook_is_recorded_and_other_plugins_work() -> None:
    host = PluginHost(autoload=False, plugins=[("bad", RaisingPlugin()), ("good", TaskPlugin("classify-x"))])

    assert host.task("classify-x").plugin == "good"
    assert host.records["good"].ok
    errors = host.records["bad"].errors
    assert any("zooft_register_tasks" in e and "RuntimeError" in e and "boom in tasks" in e for e in errors)
    assert any("zooft_registry_files" in e and "no package data" in e for e in errors)
    assert any("ZOOFT_DISABLE_PLUGINS=bad" in e for e in errors)
    assert not host.records["bad"].ok
    assert all(e.startswith("plugin 'bad': ") for e in host.errors())
    assert host.records["bad"].to_dict()["errors"] == errors


def test_lookup_hint_points_at_broken_plugins() -> None:
    host = PluginHost(autoload=False, plugins=[("bad", RaisingPlugin())])
    with pytest.raises(zooft.PluginError) as info:
        host.task("segment")
    assert "plugins with errors: bad" in (info.value.hint or "")
    assert "zooft plugins" in (info.value.hint or "")


def test_wrong_hook_name_is_a_recorded_validation_error() -> None:
    class Typo:
        @zooft.hookimpl
        def zooft_register_backbone(self, register: Callable[[Any], None]) -> None:  # missing "s"
            register(zooft.BackboneSource(name="typo", factory=_backbone_factory))

    host = PluginHost(autoload=False, plugins=[("typo", Typo()), ("good", TaskPlugin("t"))])
    (error,) = host.records["typo"].errors
    assert "invalid hook implementation" in error
    assert "zooft_register_backbone" in error
    assert "zooft/hookspecs.py" in error
    # the invalid plugin is unregistered entirely; the other plugin is unaffected
    assert host.pm.get_plugin("typo") is None
    assert "typo" not in host.items["backbones"]
    assert host.task("t").plugin == "good"


def test_unknown_hook_argument_is_a_recorded_validation_error() -> None:
    class ExtraArg:
        @zooft.hookimpl
        def zooft_register_tasks(self, register: Callable[[Any], None], config: dict[str, Any]) -> None:
            raise AssertionError("never called")

    host = PluginHost(autoload=False, plugins=[("extra", ExtraArg())])
    (error,) = host.records["extra"].errors
    assert "invalid hook implementation" in error
    assert "zooft_register_tasks" in error
    assert "config" in error
    assert host.items["tasks"] == {}


def test_register_given_a_dict_is_recorded() -> None:
    class DictPlugin:
        @zooft.hookimpl
        def zooft_register_backbones(self, register: Callable[[Any], None]) -> None:
            register({"name": "dictsrc", "factory": _backbone_factory})

    host = PluginHost(autoload=False, plugins=[("dicty", DictPlugin())])
    (error,) = host.records["dicty"].errors
    assert "zooft_register_backbones" in error
    assert "passed dict to register()" in error
    assert "zooft.BackboneSource" in error
    assert "dictsrc" not in host.items["backbones"]


def test_register_given_the_wrong_dataclass_is_recorded() -> None:
    class Mixup:
        @zooft.hookimpl
        def zooft_register_exporters(self, register: Callable[[Any], None]) -> None:
            register(zooft.TaskInfo(name="oops", factory=object))

    host = PluginHost(autoload=False, plugins=[("mixup", Mixup())])
    (error,) = host.records["mixup"].errors
    assert "passed TaskInfo" in error and "expected zooft.ExporterInfo" in error


def test_same_name_from_two_plugins_raises_naming_both() -> None:
    host = PluginHost(autoload=False, plugins=[("first", TaskPlugin("dup")), ("second", TaskPlugin("dup"))])
    assert host.records["first"].ok
    (error,) = host.records["second"].errors
    assert "'dup'" in error and "'first'" in error

    with pytest.raises(zooft.PluginError) as info:
        host.task("dup")
    message = str(info.value)
    assert "'first'" in message and "'second'" in message
    assert "ZOOFT_DISABLE_PLUGINS" in (info.value.hint or "")
    assert isinstance(info.value, RuntimeError)  # errors also subclass the builtin they refine


def test_unknown_name_suggests_close_matches() -> None:
    host = PluginHost(autoload=False, plugins=[("fake", EverythingPlugin())])
    with pytest.raises(zooft.PluginError) as info:
        host.backbone_source("fakesr")
    assert str(info.value) == "no backbone named 'fakesr'"
    assert "did you mean fakesrc" in (info.value.hint or "")

    with pytest.raises(zooft.PluginError) as info:
        host.exporter("zzzzzz")
    assert "known exporters: fakefmt" in (info.value.hint or "")


def test_missing_registry_file_is_recorded(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "models.yaml"
    host = PluginHost(autoload=False, plugins=[("fake", EverythingPlugin(missing))])
    (error,) = host.records["fake"].errors
    assert str(missing) in error and "does not exist" in error
    assert host.registry_files == []
    # what the plugin did register still works
    assert host.backbone_source("fakesrc").plugin == "fake"


def test_process_wide_host_is_cached_and_resettable() -> None:
    custom = PluginHost(autoload=False, plugins=[("fake", EverythingPlugin())])
    reset_host(custom)
    assert get_host() is custom
    reset_host()
    assert get_host() is not custom
    assert get_host() is get_host()


# -- entry points and the environment switches -------------------------------------------------
GOOD_MODULE = textwrap.dedent(
    """
    import zooft

    @zooft.hookimpl
    def zooft_register_backbones(register):
        register(zooft.BackboneSource(name="epsrc", factory=lambda spec, **kw: None))
    """
)
BROKEN_MODULE = 'raise ImportError("needs the missing library frobnicate")\n'
EP_MODULES = ("zooft_test_good_plugin", "zooft_test_broken_plugin")


@pytest.fixture
def entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fake installed distribution with two ``zooft`` entry points: ``good`` and ``broken``."""
    site = tmp_path / "site"
    dist_info = site / "zooft_test_plugins-1.2.3.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: zooft-test-plugins\nVersion: 1.2.3\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(
        f"[zooft]\ngood = {EP_MODULES[0]}\nbroken = {EP_MODULES[1]}\n", encoding="utf-8"
    )
    (site / f"{EP_MODULES[0]}.py").write_text(GOOD_MODULE, encoding="utf-8")
    (site / f"{EP_MODULES[1]}.py").write_text(BROKEN_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    for name in EP_MODULES:
        sys.modules.pop(name, None)
    importlib.invalidate_caches()


def test_broken_entry_point_is_recorded_and_others_load(entry_points: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOFT_PLUGINS", "good,broken")
    host = PluginHost()

    assert set(host.records) == {"good", "broken"}
    broken = host.records["broken"]
    (error,) = broken.errors
    assert f"import of '{EP_MODULES[1]}' failed" in error
    assert "ImportError: needs the missing library frobnicate" in error
    assert "ZOOFT_DISABLE_PLUGINS=broken" in error
    assert "zooft-test-plugins" in error  # the hint names the distribution to reinstall

    good = host.records["good"]
    assert good.ok
    assert (good.distribution, good.version, good.builtin) == ("zooft-test-plugins", "1.2.3", False)
    assert good.module == EP_MODULES[0]
    assert host.backbone_source("epsrc").plugin == "good"


def test_autoload_disabled_loads_no_entry_point(entry_points: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOFT_DISABLE_PLUGIN_AUTOLOAD", "1")
    host = PluginHost()
    assert host.records == {}
    assert all(table == {} for table in host.items.values())
    # explicit plugins still work
    host = PluginHost(plugins=[("fake", EverythingPlugin())])
    assert list(host.records) == ["fake"]


def test_autoload_disabled_still_loads_the_allow_list(entry_points: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOFT_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("ZOOFT_PLUGINS", "good")
    assert list(PluginHost().records) == ["good"]


@pytest.mark.parametrize("value", ["0", ""])
def test_autoload_switch_off_values_keep_autoloading(
    entry_points: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ZOOFT_DISABLE_PLUGIN_AUTOLOAD", value)
    monkeypatch.setenv("ZOOFT_DISABLE_PLUGINS", "broken")
    host = PluginHost()
    assert "good" in host.records


def test_explicit_autoload_argument_wins_over_the_environment(
    entry_points: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOOFT_DISABLE_PLUGINS", "broken")
    assert PluginHost(autoload=False).records == {}
    monkeypatch.setenv("ZOOFT_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "good" in PluginHost(autoload=True).records


def test_allow_list_loads_only_the_named_entry_points(entry_points: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOFT_PLUGINS", " good , ")  # spaces and empty items are ignored
    host = PluginHost()
    assert list(host.records) == ["good"]  # no built-in plugin either
    assert host.backbone_source("epsrc").plugin == "good"


def test_disable_list_skips_entry_points(entry_points: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOFT_DISABLE_PLUGINS", "broken")
    host = PluginHost()  # autoload: also loads whatever zooft plugins are installed
    assert "broken" not in host.records
    assert host.records["good"].ok


def test_disable_list_wins_over_the_allow_list(entry_points: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOFT_PLUGINS", "good,broken")
    monkeypatch.setenv("ZOOFT_DISABLE_PLUGINS", "broken,good")
    assert PluginHost().records == {}


def test_get_host_reads_the_switches(entry_points: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOFT_PLUGINS", "broken")
    assert list(get_host().records) == ["broken"]
