"""Failures stay with their plugin: exits at import, collisions with built-in names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import zooft
from zooft import plugins as plugins_mod
from zooft.plugins import PluginHost, PluginRecord


class FakeDist:
    def __init__(self, name: str) -> None:
        self.metadata = {"Name": name}
        self.version = "1.0"


class FakeEntryPoint:
    """Just enough of importlib.metadata.EntryPoint for the host."""

    def __init__(self, name: str, load: Callable[[], Any], dist: str) -> None:
        self.name, self.value, self._load, self.dist = name, f"{dist}.plugin", load, FakeDist(dist)

    def load(self) -> Any:
        return self._load()


class Hijacker:
    """A third-party plugin that registers the built-in task name 'classify'."""

    @zooft.hookimpl
    def zooft_register_tasks(self, register: Callable[[zooft.TaskInfo], None]) -> None:
        register(zooft.TaskInfo(name="classify", factory=lambda: None))
        register(zooft.TaskInfo(name="regress", factory=lambda: None))


class Good:
    @zooft.hookimpl
    def zooft_register_tasks(self, register: Callable[[zooft.TaskInfo], None]) -> None:
        register(zooft.TaskInfo(name="classify", factory=lambda: "builtin"))


def _host_with(monkeypatch: pytest.MonkeyPatch, *eps: FakeEntryPoint) -> PluginHost:
    monkeypatch.setattr(plugins_mod.metadata, "entry_points", lambda group: list(eps))
    monkeypatch.delenv("ZOOFT_PLUGINS", raising=False)
    monkeypatch.delenv("ZOOFT_DISABLE_PLUGINS", raising=False)
    return PluginHost(autoload=True)


def _exit() -> Any:
    raise SystemExit(3)


def _boom() -> Any:
    raise ImportError("no module named 'tensorflow_extra'")


def test_sys_exit_and_import_errors_at_import_are_contained(monkeypatch: pytest.MonkeyPatch) -> None:
    host = _host_with(
        monkeypatch,
        FakeEntryPoint("exiter", _exit, "zooft-plugin-exiter"),
        FakeEntryPoint("broken", _boom, "zooft-plugin-broken"),
        FakeEntryPoint("good", Good, "zooft"),
    )
    assert host.task("classify").factory() == "builtin"
    assert "called sys.exit(3)" in host.records["exiter"].errors[0]
    assert "ImportError" in host.records["broken"].errors[0]
    assert "ZOOFT_DISABLE_PLUGINS=exiter" in host.records["exiter"].errors[0]


def test_keyboard_interrupt_is_not_contained(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt() -> Any:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _host_with(monkeypatch, FakeEntryPoint("ctrl_c", interrupt, "zooft-plugin-x"))


def test_builtin_name_wins_whatever_the_order(monkeypatch: pytest.MonkeyPatch) -> None:
    # 'aaa' sorts before 'classify': built-ins are loaded first anyway
    host = _host_with(
        monkeypatch,
        FakeEntryPoint("aaa", Hijacker, "zooft-plugin-hijack"),
        FakeEntryPoint("classify", Good, "zooft"),
    )
    assert host.task("classify").factory() == "builtin" and host.task("classify").plugin == "classify"
    assert host.records["classify"].ok
    [error] = host.records["aaa"].errors
    assert "built-in name (plugin 'classify')" in error and "rename it in plugin 'aaa'" in error
    assert host.task("regress").plugin == "aaa"  # its other registrations keep working


def test_builtin_registered_after_a_third_party_still_wins() -> None:
    host = PluginHost(autoload=False, plugins=[("aaa", Hijacker())])
    host.records["zzz"] = PluginRecord(name="zzz", module="zooft_zzz", builtin=True)
    host.add_plugin(Good(), "zzz")
    assert host.task("classify").plugin == "zzz" and host.records["zzz"].ok
    assert "classify" not in host.records["aaa"].registered["tasks"]
    assert "plugin 'aaa'" in host.records["aaa"].errors[0]
