"""``zooft list-models``, ``info`` and ``pull``: the model zoo, without importing TensorFlow."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from . import state
from .console import err, out, print_json


def _params(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e6:.1f}M" if n >= 1e5 else f"{n / 1e3:.0f}k"


def list_models(
    pattern: Annotated[str | None, typer.Argument(help="Wildcard (or substring) on names and aliases.")] = None,
    task: Annotated[str | None, typer.Option(help="Only models usable for this task.")] = None,
    source: Annotated[str | None, typer.Option(help="Only models of this source (keras, hub …).")] = None,
    tag: Annotated[str | None, typer.Option(help="Only models with this tag.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the models of the zoo."""
    specs = state.registry().list(pattern, task=task, source=source, tag=tag)
    if as_json:
        print_json([s.to_dict() for s in specs])
        return
    table = Table(box=None, header_style="bold")
    for column in ("name", "source", "tasks", "input", "params", "weights", "licence"):
        table.add_column(column, no_wrap=True)
    rows = []
    for s in specs:
        size = f"{s.input_size[0]}×{s.input_size[1]}" if s.input_size else "-"
        rows.append((s.name, s.source, ",".join(s.tasks), size, _params(s.params), s.weights.label, s.license or "?"))
        table.add_row(*rows[-1])
    # never fold model names: widen past the terminal (or the 80 columns of a pipe) if needed
    needed = sum(max([len(r[i]) for r in rows] + [8]) + 2 for i in range(7))
    Console(width=max(out.width, needed), highlight=False).print(table)
    err.print(f"{len(specs)} model(s)" + ("" if specs else "; try without filters or see 'zooft list-models --help'"))


def info(
    model: Annotated[str, typer.Argument(help="Model name or alias.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one model's registry entry."""
    spec = state.resolve_model(model)
    if as_json:
        print_json(spec.to_dict())
        return
    for key, value in spec.to_dict().items():
        if value not in (None, "", [], {}):
            out.print(f"[bold]{key}[/]: {value}")


def pull(
    model: Annotated[str, typer.Argument(help="Model name or alias.")],
    from_file: Annotated[
        str | None, typer.Option("--from", help="Import weights fetched by hand instead of downloading.", metavar="FILE")
    ] = None,
) -> None:
    """Download a model's weights into zooft's cache (or import a file) for offline use."""
    from ..cache import cache_root
    from ..plugins import get_host

    spec = state.resolve_model(model)
    source = get_host().backbone_source(spec.source)
    if source.fetch is None:
        err.print(f"{spec.name}: source {spec.source!r} needs no download")
        return
    path = source.fetch(spec, from_file=from_file, cache_dir=cache_root())
    out.print(f"{spec.name}: {'no weights to fetch' if path is None else path}")


def register(app: typer.Typer) -> None:
    """Add the model-zoo commands to ``app``."""
    app.command("list-models")(list_models)
    app.command("info")(info)
    app.command("pull")(pull)
