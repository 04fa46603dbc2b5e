"""The one YAML (and JSON) loader for registry and config files: bounded, strict, one-line errors.

A registry or config file may come from anyone (a plugin, a colleague, a download), so
:func:`load_yaml_file`

- reads the file under the data-file rule (regular files only, at most ``max_bytes``,
  default :data:`MAX_YAML_BYTES`): a FIFO or directory given as ``--registry`` is refused;
- refuses bytes that are not UTF-8, naming the line and byte;
- refuses YAML aliases (``*name``, and so ``<<: *name`` merges): an "alias bomb" of a few
  hundred bytes expands to billions of nodes for whatever walks the result; zooft's own
  files never need them;
- refuses nesting deeper than :data:`MAX_DEPTH` (Python's recursion would fail on it) and
  more than :data:`MAX_NODES` nodes;
- refuses a key repeated in one mapping (YAML would silently keep the last);
- uses the safe loader (no Python object tags) in its C implementation when available.

Errors are raised as ``error(message, hint)`` with the file and line in the message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .data.files import DataFileError, read_data_file
from .errors import ZooftError

__all__ = ["MAX_DEPTH", "MAX_NODES", "MAX_YAML_BYTES", "load_json_text", "load_yaml_file", "load_yaml_text"]

#: Largest registry/config file read (the packaged registry is a few tens of kB).
MAX_YAML_BYTES = 4 * 10**6
#: Deepest nesting of lists and mappings accepted.
MAX_DEPTH = 50
#: Most YAML nodes (scalars, lists, mappings) in one file.
MAX_NODES = 200_000

try:  # the C loader is ~10x faster; list-models must answer instantly
    _BaseLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader

ErrorFactory = Callable[[str, str], ZooftError]


class _Refused(yaml.YAMLError):
    """A document zooft refuses: an alias, a duplicate key, too deep or too large."""

    def __init__(self, problem: str, line: int | None) -> None:
        super().__init__(problem)
        self.problem, self.line = problem, line


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader that refuses a key repeated in one mapping."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: SafeConstructor reports it properly
                break
            if duplicate:
                raise _Refused(f"key {key!r} appears twice in one mapping", key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _check_nodes(root: Any) -> None:
    """Walk the composed node graph once (iteratively): a node reached twice is an alias."""
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            raise _Refused("YAML aliases (*name, <<: *name) are not allowed", node.start_mark.line + 1)
        seen.add(id(node))
        if len(seen) > MAX_NODES:
            raise _Refused(f"more than {MAX_NODES:,} YAML nodes", node.start_mark.line + 1)
        if depth > MAX_DEPTH:
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep", node.start_mark.line + 1)
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend(((key, depth + 1), (value, depth + 1)))


def _decode(data: bytes, where: str, error: ErrorFactory) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(f"{where}: line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x})",
                    "save the file as UTF-8") from None


def load_yaml_text(text: str, where: str, error: ErrorFactory, what: str = "file") -> Any:
    """Parse one YAML document under the rules in the module docstring."""
    if "\0" in text:
        line = text[: text.index("\0")].count("\n") + 1
        raise error(f"{where}: line {line}: a NUL byte; this is not a text file", "pass a YAML text file")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node)
        return loader.construct_document(node)
    except _Refused as exc:
        hint = ("write the values out in full" if "alias" in exc.problem
                else "each key may appear once per mapping; remove or rename one" if "twice" in exc.problem
                else "this file is too large or too deeply nested to be a zooft file")
        raise error(f"{where}: line {exc.line}: {exc.problem}", hint) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"malformed {what} {where}:{at} {problem}" if what != "registry file"
                    else f"{where}:{at} malformed YAML: {problem}",
                    "fix the YAML syntax (indentation, colons, quotes) at that place") from None
    except RecursionError:
        raise error(f"{where}: nested too deeply", "this is not a zooft file") from None
    finally:
        loader.dispose()


def load_json_text(text: str, where: str, error: ErrorFactory, what: str = "file") -> Any:
    """Parse JSON, refusing duplicate keys like the YAML loader."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in items:
            if key in result:
                raise error(f"{where}: key {key!r} appears twice in one object",
                            "each key may appear once per object; remove or rename one")
            result[key] = value
        return result

    try:
        return json.loads(text, object_pairs_hook=pairs)
    except ValueError as exc:
        if isinstance(exc, ZooftError):
            raise
        raise error(f"malformed {what} {where}: {str(exc).splitlines()[0]}", "fix its syntax") from None
    except RecursionError:
        raise error(f"{where}: nested too deeply", "this is not a zooft file") from None


def load_yaml_file(
    path: str | os.PathLike[str],
    error: ErrorFactory,
    *,
    what: str = "file",
    hint: str = "check the path",
    max_bytes: int = MAX_YAML_BYTES,
) -> Any:
    """Read and parse the YAML (or, for ``.json`` names, JSON) file ``path``.

    ``error(message, hint)`` builds the exception to raise (e.g. ``RegistryError``); every
    message names the file. ``what`` names the kind of file in "cannot read" messages.
    """
    where = str(path)
    try:
        data = read_data_file(path, max_bytes=max_bytes)
    except DataFileError as exc:
        raise error(f"cannot read {what} {where!r}: {exc.reason}", hint) from None
    text = _decode(data, where, error)
    if Path(where).suffix.lower() == ".json":
        return load_json_text(text, where, error, what)
    return load_yaml_text(text, where, error, what)
