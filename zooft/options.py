"""Options that tasks and exporters declare, and how the host checks what users give them.

A plugin declares ``options={"name": Option(...)}`` on its :class:`~zooft.TaskInfo` or
:class:`~zooft.ExporterInfo`. For brevity a declaration may also be a sequence of allowed
values (the first is the default) or ``None`` (free-form text). Users set them with
``--option KEY=VALUE`` (repeatable), in ``--export FORMAT:KEY=VALUE,…``, in a config file
(``task_options:``) or through the Python API; every value is converted to the declared type,
checked against the choices, and an unknown key fails with the closest known one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Option:
    """One declared option: its type (``str``, ``int``, ``float`` or ``bool``), default, allowed
    values (``choices``, compared as text) and a one-line help shown by ``zooft plugins``."""

    type: type = str
    default: Any = None
    choices: tuple[str, ...] | None = None
    help: str = ""

    def parse(self, value: Any) -> Any:
        """``value`` (text from the command line, or a config/API value) as the declared type;
        raises ValueError naming what was expected."""
        if value is None:
            return None
        if self.type is bool:
            if isinstance(value, bool):
                result: Any = value
            elif str(value).strip().lower() in _TRUE:
                result = True
            elif str(value).strip().lower() in _FALSE:
                result = False
            else:
                raise ValueError("expected true or false")
        elif self.type is int:
            try:
                if isinstance(value, bool):
                    raise ValueError
                result = value if isinstance(value, int) else int(str(value).strip())
            except ValueError:
                raise ValueError("expected a whole number") from None
        elif self.type is float:
            try:
                result = float(value)
            except (TypeError, ValueError):
                raise ValueError("expected a number") from None
        elif self.type is str:
            result = value if isinstance(value, str) else str(value)
        else:
            result = self.type(value)
        if self.choices is not None and str(result) not in self.choices:
            raise ValueError(f"allowed: {', '.join(self.choices)}")
        return result

    def describe(self) -> dict[str, Any]:
        """A JSON-ready view (``zooft plugins --json``)."""
        return {"type": self.type.__name__, "default": self.default,
                "choices": list(self.choices) if self.choices is not None else None, "help": self.help}


def as_option(declared: Option | Sequence[str] | None) -> Option:
    """A declaration in any accepted form as an :class:`Option`."""
    if isinstance(declared, Option):
        return declared
    if declared is None:
        return Option()
    choices = tuple(str(v) for v in declared)
    return Option(default=choices[0] if choices else None, choices=choices)


def declared_options(declared: Mapping[str, Option | Sequence[str] | None]) -> dict[str, Option]:
    """Every declaration of a plugin as an :class:`Option`."""
    return {name: as_option(value) for name, value in declared.items()}


def parse_pairs(items: Iterable[str], *, flag: str = "--option") -> dict[str, str]:
    """``["a=1", "b=x,y"]`` -> ``{"a": "1", "b": "x,y"}``; a later key wins."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} {item!r} is not KEY=VALUE", hint=f"e.g. {flag} quantize=int8")
        result[key.strip().replace("-", "_")] = value.strip()
    return result


def parse_format_item(item: str) -> tuple[str, dict[str, str]]:
    """``FORMAT``, ``FORMAT:VALUE`` (the format's ``quantize``, as before) or
    ``FORMAT:KEY=VALUE,KEY=VALUE`` -> ``(format, {key: value})``."""
    fmt, _, rest = str(item).partition(":")
    if not rest:
        return fmt, {}
    if "=" not in rest:
        return fmt, {"quantize": rest}
    return fmt, parse_pairs([p for p in rest.split(",") if p.strip()], flag=f"--export {fmt}:")


def unknown_option(kind: str, owner: str, key: str, known: Iterable[str]) -> ConfigError:
    """The one-line error for an option ``owner`` does not declare, with the closest name."""
    known = sorted(known)
    close = difflib.get_close_matches(key, known, n=1)
    return ConfigError(
        f"unknown {owner} {kind} option {key!r}; known: {', '.join(known) or 'none'}",
        hint=f"did you mean {close[0]!r}?" if close else f"'zooft plugins --json' lists each {kind}'s options",
    )


def validate_options(
    kind: str,
    owner: str,
    declared: Mapping[str, Option | Sequence[str] | None],
    given: Mapping[str, Any],
    *,
    with_defaults: bool = False,
) -> dict[str, Any]:
    """``given`` converted and checked against ``declared`` (``None`` values are skipped);
    ``with_defaults`` adds every declared option's default for keys not given."""
    options = declared_options(declared)
    result: dict[str, Any] = {}
    for key, value in given.items():
        if value is None:
            continue
        if key not in options:
            raise unknown_option(kind, owner, key, options)
        try:
            result[key] = options[key].parse(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"{owner} option {key}={value!r} is not valid; {exc}",
                hint=options[key].help or f"'zooft plugins --json' lists the {owner} options",
            ) from None
    if with_defaults:
        for key, option in options.items():
            result.setdefault(key, option.default)
    return result
