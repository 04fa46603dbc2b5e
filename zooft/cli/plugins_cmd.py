"""``zooft plugins``: what each plugin registered and any load error."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import ZooftError
from . import state
from .console import err, out, print_json


def plugins(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List loaded plugins, their versions, what they register and their errors."""
    from ..plugins import get_host
    from ..registry import load_registry

    host = get_host()
    try:  # a plugin's bad registry file is that plugin's error: load them to report it
        load_registry(state.registry_files, host=host)
    except ZooftError:
        pass  # a user file's error: 'zooft list-models' reports it
    records = list(host.records.values())
    if as_json:
        print_json([{**r.to_dict(), "options": _declared_options(host, r.name)} for r in records])
        return
    table = Table(box=None, header_style="bold")
    for column in ("plugin", "version", "kind", "registers", "status"):
        table.add_column(column, overflow="fold")
    for r in records:
        registers = "; ".join(f"{k}: {', '.join(sorted(v))}" for k, v in r.registered.items() if v and k != "registry_files")
        if r.registered.get("registry_files"):
            registers += ("; " if registers else "") + f"registry files: {len(r.registered['registry_files'])}"
        status = "[green]ok[/]" if r.ok else "[red]error[/]"
        table.add_row(r.name, r.version or "?", "built-in" if r.builtin else "third-party", registers or "-", status)
    out.print(table)
    for r in records:
        for e in r.errors:
            err.print(f"[red]plugin {escape(r.name)}:[/] {escape(e)}", markup=True)


def _declared_options(host: Any, plugin: str) -> dict[str, dict[str, Any]]:
    """``{"tasks": {name: {option: description}}, "exporters": {...}}`` for what ``plugin`` registered."""
    from ..options import declared_options

    result: dict[str, dict[str, Any]] = {}
    for kind in ("tasks", "exporters"):
        for name, info in host.items[kind].items():
            if info.plugin == plugin and info.options is not None:
                result.setdefault(kind, {})[name] = {k: o.describe() for k, o in declared_options(info.options).items()}
    return result


def register(app: typer.Typer) -> None:
    """Add ``plugins`` to ``app``."""
    app.command("plugins")(plugins)
