"""The plugin host: loads ``zooft`` entry points with pluggy and collects what they register.

First-party plugins are ordinary entry points of the ``zooft`` distribution, loaded exactly
like third-party ones. A plugin that fails to import, fails hook validation, raises in a hook,
ships a bad registry file or registers a name another plugin already took is *recorded* (name,
error, hint) and the others keep working; looking up a name that belongs to a broken or
conflicting plugin raises a :class:`~zooft.errors.PluginError` that says why.

Containment: an import or hook that raises any ``Exception`` *or* ``SystemExit`` (a plugin
calling ``sys.exit()`` at import) is that plugin's error. ``KeyboardInterrupt`` is not
contained: it is the user stopping the command. Built-in (first-party) names win collisions
whatever the load order: a third-party plugin registering ``classify`` or ``onnx`` gets the
error, and the built-in keeps working.

Environment switches (read when the host is built):

- ``ZOOFT_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry point except those named in
  ``ZOOFT_PLUGINS``.
- ``ZOOFT_PLUGINS=a,b``: allow-list; when set, only these entry points load.
- ``ZOOFT_DISABLE_PLUGINS=a,b``: never load these entry points.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError
from .specs import BackboneSource, DatasetFormat, ExporterInfo, TaskInfo

ENTRY_POINT_GROUP = "zooft"
#: What a plugin's import or hook may raise and still be contained (see the module docstring).
CONTAINED = (Exception, SystemExit)
hookimpl = pluggy.HookimplMarker("zooft")

# kind of registration -> (hook name, the dataclass the register callback accepts)
_KINDS: dict[str, tuple[str, type]] = {
    "backbones": ("zooft_register_backbones", BackboneSource),
    "tasks": ("zooft_register_tasks", TaskInfo),
    "exporters": ("zooft_register_exporters", ExporterInfo),
    "datasets": ("zooft_register_datasets", DatasetFormat),
}


@dataclass
class PluginRecord:
    """What the host knows of one plugin: where it came from, what it registered, what failed."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False
    registered: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the plugin loaded and every hook ran without error."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view, as printed by ``zooft plugins --json``."""
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "builtin": self.builtin,
            "registered": {k: sorted(v) for k, v in self.registered.items() if v},
            "errors": list(self.errors),
        }


def _env_list(name: str) -> set[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return {item.strip() for item in value.split(",") if item.strip()}


class PluginHost:
    """Loads plugins and holds everything they registered, keyed by name per kind."""

    def __init__(self, *, autoload: bool | None = None, plugins: Iterable[tuple[str, object]] = ()) -> None:
        self.pm = pluggy.PluginManager("zooft")
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self.items: dict[str, dict[str, Any]] = {kind: {} for kind in _KINDS}
        # name -> (first plugin, second plugin) for names registered twice
        self.conflicts: dict[str, dict[str, tuple[str, str]]] = {kind: {} for kind in _KINDS}
        self.registry_files: list[tuple[Path, str]] = []
        if autoload is None:
            autoload = os.environ.get("ZOOFT_DISABLE_PLUGIN_AUTOLOAD", "") in ("", "0")
        self._load_entry_points(autoload)
        for name, obj in plugins:
            self._register(obj, self._record_for(obj, name))
        self._collect()

    # -- loading ---------------------------------------------------------------------------
    def _load_entry_points(self, autoload: bool) -> None:
        allow = _env_list("ZOOFT_PLUGINS")
        deny = _env_list("ZOOFT_DISABLE_PLUGINS") or set()
        def order(ep: Any) -> tuple[bool, str]:  # built-ins first: they win entry-point name clashes
            dist = getattr(ep, "dist", None)
            return (not (dist and dist.metadata["Name"] == "zooft"), ep.name)

        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=order):
            if ep.name in deny:
                continue
            if ep.name in self.records:
                other = self.records[ep.name]
                dist_name = ep.dist.metadata["Name"] if getattr(ep, "dist", None) else None
                if dist_name != other.distribution:  # the same dist can be listed twice (editable installs)
                    other.errors.append(
                        f"entry point name {ep.name!r} is claimed by both {other.distribution!r} and {dist_name!r};"
                        f" only the first was loaded (hint: uninstall one of them)"
                    )
                continue
            if allow is not None and ep.name not in allow:
                continue
            if allow is None and not autoload:
                continue
            dist = getattr(ep, "dist", None)
            record = PluginRecord(
                name=ep.name,
                module=ep.value,
                distribution=dist.metadata["Name"] if dist else None,
                version=dist.version if dist else None,
                builtin=bool(dist and dist.metadata["Name"] == "zooft"),
            )
            self.records[ep.name] = record
            try:
                obj = ep.load()
            except CONTAINED as exc:  # a broken plugin must not take the others down
                what = f"called sys.exit({exc.code!r})" if isinstance(exc, SystemExit) else f"{type(exc).__name__}: {exc}"
                record.errors.append(
                    f"import of {ep.value!r} failed: {what}"
                    f" (hint: reinstall {record.distribution or ep.name} or disable it with"
                    f" ZOOFT_DISABLE_PLUGINS={ep.name})"
                )
                continue
            self._register(obj, record)

    def _record_for(self, obj: object, name: str) -> PluginRecord:
        return self.records.setdefault(name, PluginRecord(name=name, module=getattr(obj, "__name__", repr(obj))))

    def add_plugin(self, obj: object, name: str) -> None:
        """Register and collect a plugin object after start-up (tests, notebooks), through the
        same validation and registration path as entry points."""
        self._register(obj, self._record_for(obj, name))
        self._collect(only={name})

    def _register(self, obj: object, record: PluginRecord) -> None:
        try:
            self.pm.register(obj, name=record.name)
            self.pm.check_pending()
        except Exception as exc:  # PluginValidationError: wrong hook name or arguments
            if self.pm.is_registered(obj):
                self.pm.unregister(obj)
            record.errors.append(
                f"invalid hook implementation: {exc} (hint: compare with the hooks in zooft/hookspecs.py;"
                " hook names start with 'zooft_' and take only the documented arguments)"
            )

    # -- collecting ------------------------------------------------------------------------
    def _call_each(self, hook_name: str, only: set[str] | None, **kwargs: Any) -> Iterable[tuple[PluginRecord, Any]]:
        """Call every implementation separately so that one plugin's failure is only its own."""
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            if only is not None and impl.plugin_name not in only:
                continue
            record = self.records[impl.plugin_name]
            try:
                result = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except CONTAINED as exc:
                record.errors.append(
                    f"hook {hook_name} raised {type(exc).__name__}: {exc}"
                    f" (hint: fix or update the plugin, or disable it with ZOOFT_DISABLE_PLUGINS={record.name})"
                )
                continue
            yield record, result

    def _make_register(self, kind: str, record: PluginRecord, hook_name: str) -> Callable[[Any], None]:
        expected = _KINDS[kind][1]

        def register(item: Any) -> None:
            if not isinstance(item, expected):
                raise PluginError(
                    f"plugin {record.name!r}: {hook_name} passed {type(item).__name__} to register();"
                    f" expected zooft.{expected.__name__}",
                    hint=f"register(zooft.{expected.__name__}(name=..., ...))",
                )
            item = replace(item, plugin=record.name)
            table = self.items[kind]
            if item.name in table:
                first = self.records[table[item.name].plugin]
                if first.builtin and not record.builtin:  # the built-in keeps its name
                    record.errors.append(_taken(kind, item.name, first.name, record.name))
                    return
                if record.builtin and not first.builtin:  # loaded earlier, but the built-in wins
                    first.errors.append(_taken(kind, item.name, record.name, first.name))
                    first.registered[kind].remove(item.name)
                else:
                    self.conflicts[kind][item.name] = (first.name, record.name)
                    record.errors.append(
                        f"{kind[:-1]} {item.name!r} is already registered by plugin {first.name!r}"
                        f" (hint: rename it, or disable one plugin with ZOOFT_DISABLE_PLUGINS)"
                    )
                    return
            table[item.name] = item
            record.registered.setdefault(kind, []).append(item.name)

        return register

    def _collect(self, only: set[str] | None = None) -> None:
        for kind, (hook_name, _cls) in _KINDS.items():
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                if only is not None and impl.plugin_name not in only:
                    continue
                record = self.records[impl.plugin_name]
                register = self._make_register(kind, record, hook_name)
                try:
                    impl.function(**{arg: register for arg in impl.argnames})
                except CONTAINED as exc:
                    detail = str(exc) if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}"
                    record.errors.append(f"hook {hook_name} failed: {detail}")
        for record, result in self._call_each("zooft_registry_files", only):
            for path in result or ():
                path = Path(path)
                if not path.is_file():
                    record.errors.append(
                        f"registry file {str(path)!r} does not exist (hint: ship it as package data)"
                    )
                    continue
                self.registry_files.append((path, record.name))
                record.registered.setdefault("registry_files", []).append(str(path))

    # -- lookups ---------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> Any:
        """Return the registered item ``name`` of ``kind`` or raise a helpful PluginError."""
        if name in self.conflicts[kind]:
            first, second = self.conflicts[kind][name]
            raise PluginError(
                f"{kind[:-1]} {name!r} is registered by both plugin {first!r} and plugin {second!r}",
                hint=f"disable one of them, e.g. ZOOFT_DISABLE_PLUGINS={second}",
            )
        table = self.items[kind]
        if name in table:
            return table[name]
        known = sorted(table)
        close = difflib.get_close_matches(name, known, n=3)
        broken = [r.name for r in self.records.values() if r.errors]
        hint = f"did you mean {', '.join(close)}?" if close else f"known {kind}: {', '.join(known) or 'none'}"
        if broken:
            hint += f"; plugins with errors: {', '.join(broken)} (see 'zooft plugins')"
        raise PluginError(f"no {kind[:-1]} named {name!r}", hint=hint)

    def backbone_source(self, name: str) -> BackboneSource:
        """The backbone source called ``name`` (``keras``, ``hub`` …)."""
        return self.get("backbones", name)

    def task(self, name: str) -> TaskInfo:
        """The task called ``name`` (``classify`` …)."""
        return self.get("tasks", name)

    def exporter(self, name: str) -> ExporterInfo:
        """The export format called ``name`` (``savedmodel``, ``tflite`` …)."""
        return self.get("exporters", name)

    def dataset_format(self, name: str) -> DatasetFormat:
        """The data format called ``name`` (``image-folder``, ``csv`` …)."""
        return self.get("datasets", name)

    def note_error(self, plugin: str, message: str) -> None:
        """Record ``message`` as ``plugin``'s error once (e.g. its registry file failed to load)."""
        record = self.records.get(plugin)
        if record is not None and message not in record.errors:
            record.errors.append(message)

    def disabled(self, plugin: str) -> bool:
        """True when ``plugin`` is known and has errors."""
        record = self.records.get(plugin)
        return bool(record and record.errors)

    def errors(self) -> list[str]:
        """Every load error, each prefixed by its plugin's name."""
        return [f"plugin {r.name!r}: {e}" for r in self.records.values() for e in r.errors]


def _taken(kind: str, name: str, builtin: str, third: str) -> str:
    return (
        f"{kind[:-1]} {name!r} is a built-in name (plugin {builtin!r}); plugin {third!r}'s {kind[:-1]} was ignored"
        f" (hint: rename it in plugin {third!r}; the built-in stays in use)"
    )


_HOST: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide plugin host, built on first use."""
    global _HOST
    if _HOST is None:
        _HOST = PluginHost()
    return _HOST


def reset_host(host: PluginHost | None = None) -> None:
    """Replace (or forget) the process-wide host; for tests and long-lived sessions."""
    global _HOST
    _HOST = host
