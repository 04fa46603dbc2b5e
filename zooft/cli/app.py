"""Assemble the typer app from one module per command group.

Command modules import only typer, rich and zooft's light modules at import time;
TensorFlow is imported inside the commands that train, evaluate or export.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .. import __version__
from . import state

EPILOG = """Examples:

  zooft demo                                   offline demo: data → fine-tune → eval → export

  zooft list-models efficientnet --task classify

  zooft tune --backbone embedded --task classify --data ./flowers --epochs 5

  zooft eval runs/my-run --data ./flowers_test

  zooft predict runs/my-run photo.jpg --top-k 3

  zooft export runs/my-run --format tflite --quantize int8
"""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"zooft {__version__}")
        raise typer.Exit()


def _root(
    registry: Annotated[
        list[str] | None,
        typer.Option("--registry", help="Extra registry YAML file (repeatable); also ZOOFT_REGISTRY.", metavar="FILE"),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Fine-tune pretrained TensorFlow models on your own data and ship them."""
    state.registry_files = list(registry or [])


def build_app() -> typer.Typer:
    """A fresh app with every command registered."""
    from . import data_cmds, models, plugins_cmd, run_cmds, train

    app = typer.Typer(
        name="zooft",
        help="Fine-tune pretrained TensorFlow models on your own data and ship them to mobile and servers.",
        epilog=EPILOG,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    models.register(app)
    plugins_cmd.register(app)
    data_cmds.register(app)
    train.register(app)
    run_cmds.register(app)
    return app
