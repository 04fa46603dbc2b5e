"""The model zoo: registry YAML files -> validated, frozen :class:`ModelSpec` entries.

Files are merged in this order, later files adding entries: zooft's packaged
``registry.yaml`` < files that plugins ship (``zooft_registry_files``) < user files
(``ZOOFT_REGISTRY``, ``--registry FILE``). Reusing a name is an error naming both files
unless the later entry says ``override: true``.

A file looks like::

    version: 1
    models:
      keras:mobilenet_v2:
        locator: MobileNetV2
        input_size: 224
        weights: imagenet          # none | a builtin name | an URL | {file: PATH, sha256: HEX}
        preprocessing: {mode: tf}  # tf | torch | caffe | unit | none | {mode: scale, scale: S, offset: O}
        tasks: [classify, detect]
        license: Apache-2.0
        params: 2257984
        aliases: [mobilenet_v2]
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import RegistryError, UnknownModelError
from .safe_yaml import load_yaml_file
from .specs import ModelSpec, WeightsSpec

PACKAGED_REGISTRY = Path(__file__).with_name("registry.yaml")
PREPROCESSING_MODES = ("tf", "torch", "caffe", "unit", "none", "scale")
MODALITIES = ("image", "text")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*:[A-Za-z0-9_.+-]+$")
_FIELDS = {
    "locator", "weights", "modality", "input_size", "preprocessing", "options", "feature_layers",
    "tasks", "license", "params", "tags", "description", "aliases", "defaults", "override",
}

class _EntryError(Exception):
    """Raised inside the validators; turned into a RegistryError naming file and entry."""


def _parse_weights(value: Any, base: Path) -> WeightsSpec:
    if value is None or value == "none":
        return WeightsSpec("none")
    if isinstance(value, str):
        if value.startswith(("http://", "https://", "file://")):
            return WeightsSpec("url", value)
        return WeightsSpec("builtin", value)
    if isinstance(value, Mapping):
        unknown = set(value) - {"url", "file", "builtin", "sha256"}
        if unknown:
            raise _EntryError(f"field 'weights': unknown key(s) {sorted(unknown)}; use url, file, builtin, sha256")
        sha = value.get("sha256")
        if sha is not None and not re.fullmatch(r"[0-9a-f]{64}", str(sha)):
            raise _EntryError(f"field 'weights.sha256': expected 64 lowercase hex digits, got {sha!r}")
        kinds = [k for k in ("url", "file", "builtin") if k in value]
        if len(kinds) != 1:
            raise _EntryError("field 'weights': give exactly one of url, file, builtin")
        kind = kinds[0]
        location = str(value[kind])
        if kind == "file":
            path = Path(os.path.expanduser(location))
            location = str(path if path.is_absolute() else (base / path).resolve())
        return WeightsSpec(kind, location, sha)
    raise _EntryError(f"field 'weights': expected none, a name, an URL or a mapping, got {value!r}")


def _parse_size(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return (value, value)
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        return (value[0], value[1])
    raise _EntryError(f"field 'input_size': expected a positive integer or [height, width], got {value!r}")


def _parse_preprocessing(value: Any) -> dict[str, Any]:
    if value is None:
        return {"mode": "none"}
    if isinstance(value, str):
        value = {"mode": value}
    if not isinstance(value, Mapping) or value.get("mode") not in PREPROCESSING_MODES:
        raise _EntryError(
            f"field 'preprocessing': expected mode one of {', '.join(PREPROCESSING_MODES)}, got {value!r}"
        )
    if value["mode"] == "scale":
        for key in ("scale", "offset"):
            if not isinstance(value.get(key), (int, float)):
                raise _EntryError(f"field 'preprocessing.{key}': expected a number, got {value.get(key)!r}")
    return dict(value)


def _str_tuple(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise _EntryError(f"field {name!r}: expected a list of strings, got {value!r}")


def _mapping(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _EntryError(f"field {name!r}: expected a mapping, got {value!r}")
    return dict(value)


def parse_entry(name: str, raw: Any, path: Path) -> ModelSpec:
    """Validate one raw YAML entry and build its ModelSpec (raises ``_EntryError``)."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise _EntryError("the name must look like 'source:name' (lowercase source, e.g. keras:mobilenet_v2)")
    if not isinstance(raw, Mapping):
        raise _EntryError(f"expected a mapping of fields, got {raw!r}")
    unknown = set(raw) - _FIELDS
    if unknown:
        bad = sorted(unknown)[0]
        close = difflib.get_close_matches(bad, sorted(_FIELDS), n=1)
        raise _EntryError(f"unknown field {bad!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    if not isinstance(raw.get("locator"), str) or not raw["locator"]:
        raise _EntryError(f"field 'locator': required, a non-empty string; got {raw.get('locator')!r}")
    modality = raw.get("modality", "image")
    if modality not in MODALITIES:
        raise _EntryError(f"field 'modality': expected one of {', '.join(MODALITIES)}, got {modality!r}")
    params = raw.get("params")
    if params is not None and (not isinstance(params, int) or isinstance(params, bool) or params < 0):
        raise _EntryError(f"field 'params': expected a non-negative integer, got {params!r}")
    for key in ("license", "description"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise _EntryError(f"field {key!r}: expected a string, got {raw[key]!r}")
    feature_layers = _mapping(raw.get("feature_layers"), "feature_layers")
    bad_levels = set(feature_layers) - {"stride8", "stride16", "stride32"}
    if bad_levels:
        raise _EntryError(f"field 'feature_layers': keys must be stride8/stride16/stride32, got {sorted(bad_levels)}")
    source = name.split(":", 1)[0]
    return ModelSpec(
        name=name,
        source=source,
        locator=raw["locator"],
        weights=_parse_weights(raw.get("weights", "none"), path.parent),
        modality=modality,
        input_size=_parse_size(raw.get("input_size")),
        preprocessing=_parse_preprocessing(raw.get("preprocessing")),
        options=_mapping(raw.get("options"), "options"),
        feature_layers=feature_layers,
        tasks=_str_tuple(raw.get("tasks"), "tasks"),
        license=raw.get("license"),
        params=params,
        tags=_str_tuple(raw.get("tags"), "tags"),
        description=(raw.get("description") or "").strip(),
        aliases=_str_tuple(raw.get("aliases"), "aliases"),
        defaults=_mapping(raw.get("defaults"), "defaults"),
        origin=str(path),
    )


def read_registry_file(path: str | os.PathLike[str]) -> list[tuple[ModelSpec, bool]]:
    """Read and validate one registry file: a list of ``(spec, override)`` pairs."""
    path = Path(path)
    # bounded and strict (zooft/safe_yaml.py): regular file, size cap, UTF-8, no aliases, no
    # duplicate keys; every error names the file
    doc = load_yaml_file(path, RegistryError, what="registry file", hint="check the path given to --registry or ZOOFT_REGISTRY")
    if doc is None:
        return []
    models = doc.get("models") if isinstance(doc, Mapping) else None
    if not isinstance(doc, Mapping) or not isinstance(models or {}, Mapping):
        got = type(doc).__name__ if not isinstance(doc, Mapping) else f"models: {type(models).__name__}"
        raise RegistryError(
            f"{path}: expected a mapping with a 'models:' mapping of entries, got {got}",
            hint="see docs/registry.md for the file format",
        )
    if doc.get("version", 1) != 1:
        raise RegistryError(f"{path}: unsupported registry version {doc.get('version')!r}", hint="use version: 1")
    entries = []
    for name, raw in (models or {}).items():
        try:
            spec = parse_entry(name, raw, path)
        except _EntryError as exc:
            raise RegistryError(
                f"{path}: entry {name!r}: {exc}", hint="see docs/registry.md for every field and its type"
            ) from None
        override = bool(raw.get("override", False))
        entries.append((spec, override))
    return entries


@dataclass
class Registry:
    """All known models, merged from every registry file, with their aliases."""

    entries: dict[str, ModelSpec] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def add_file(self, path: str | os.PathLike[str]) -> None:
        """Merge one file; a reused name without ``override: true`` is an error naming both files.

        All or nothing: a file that fails part-way leaves the registry as it was."""
        entries, aliases = dict(self.entries), dict(self.aliases)
        try:
            self._merge(path)
        except BaseException:
            self.entries, self.aliases = entries, aliases
            raise
        self.files.append(str(path))

    def _merge(self, path: str | os.PathLike[str]) -> None:
        for spec, override in read_registry_file(path):
            if spec.name in self.aliases:
                raise RegistryError(
                    f"model name {spec.name!r} ({spec.origin}) is already an alias of {self.aliases[spec.name]!r}",
                    hint="rename the entry or the alias",
                )
            old = self.entries.get(spec.name)
            if old is not None and not override:
                raise RegistryError(
                    f"model {spec.name!r} is defined twice: in {old.origin} and in {spec.origin}",
                    hint="rename one entry, or add 'override: true' to the later one to replace it on purpose",
                )
            if old is not None:
                for alias in old.aliases:
                    self.aliases.pop(alias, None)
            self.entries[spec.name] = spec
            for alias in spec.aliases:
                owner = self.aliases.get(alias)
                if alias in self.entries or (owner is not None and owner != spec.name):
                    raise RegistryError(
                        f"alias {alias!r} of {spec.name!r} ({spec.origin}) is already taken by"
                        f" {owner or alias!r}",
                        hint="choose another alias",
                    )
                self.aliases[alias] = spec.name

    def resolve(self, name: str) -> ModelSpec:
        """Find a model by full name, alias, or unambiguous short name; else suggest the closest."""
        if name in self.entries:
            return self.entries[name]
        if name in self.aliases:
            return self.entries[self.aliases[name]]
        by_short = [s for s in self.entries.values() if s.short_name == name]
        if len(by_short) == 1:
            return by_short[0]
        candidates = list(self.entries) + list(self.aliases)
        close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
        if len(by_short) > 1:
            close = [s.name for s in by_short]
            hint = f"'{name}' is ambiguous: use one of {', '.join(close)}"
        elif close:
            hint = f"did you mean {', '.join(close)}? ('zooft list-models' shows all)"
        else:
            hint = "run 'zooft list-models' to see every model, or pass an ad-hoc 'source:locator'"
        raise UnknownModelError(f"unknown model {name!r}", hint=hint)

    def list(
        self,
        pattern: str | None = None,
        *,
        task: str | None = None,
        source: str | None = None,
        tag: str | None = None,
    ) -> list[ModelSpec]:
        """Entries filtered by a wildcard pattern (substring if it has none), task, source and tag."""
        if pattern and not any(ch in pattern for ch in "*?["):
            pattern = f"*{pattern}*"
        found = []
        for spec in self.entries.values():
            names = (spec.name, *spec.aliases)
            if pattern and not any(fnmatch.fnmatchcase(n.lower(), pattern.lower()) for n in names):
                continue
            if task and task not in spec.tasks:
                continue
            if source and spec.source != source:
                continue
            if tag and tag not in spec.tags:
                continue
            found.append(spec)
        return sorted(found, key=lambda s: s.name)


def user_registry_files(extra: Iterable[str | os.PathLike[str]] = ()) -> list[str]:
    """User files: ``ZOOFT_REGISTRY`` (os.pathsep-separated) then ``--registry`` flags."""
    env = [p for p in os.environ.get("ZOOFT_REGISTRY", "").split(os.pathsep) if p]
    return env + [str(p) for p in extra]


def load_registry(user_files: Iterable[str | os.PathLike[str]] = (), *, host: Any = None) -> Registry:
    """Merge packaged, plugin and user registry files, in that order."""
    if host is None:
        from .plugins import get_host

        host = get_host()
    registry = Registry()
    registry.add_file(PACKAGED_REGISTRY)
    for path, plugin in host.registry_files:
        try:
            registry.add_file(path)
        except RegistryError as exc:  # that plugin's entries only: the rest of the zoo keeps working
            host.note_error(plugin, f"registry file {path} not loaded: {exc}" + (f" (hint: {exc.hint})" if exc.hint else ""))
    for path in user_registry_files(user_files):
        registry.add_file(path)
    return registry


def resolve_model(name: str, registry_files: Iterable[str | os.PathLike[str]] = (), *, host: Any = None) -> ModelSpec:
    """A registry entry by name or alias, else an ad-hoc ``source:locator`` that its source
    plugin's ``resolve`` understands (``keras:ResNet101``, ``hub:https://…``)."""
    if host is None:
        from .plugins import get_host

        host = get_host()
    registry = load_registry(registry_files, host=host)
    try:
        return registry.resolve(name)
    except UnknownModelError:
        source_name, _, rest = name.partition(":")
        if rest and source_name in host.items["backbones"]:
            resolver = host.backbone_source(source_name).resolve
            spec = resolver(rest) if resolver else None
            if spec is not None:
                return spec
        raise
