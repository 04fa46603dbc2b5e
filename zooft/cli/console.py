"""Two consoles: results on stdout, diagnostics and progress on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(message: str, hint: str | None) -> None:
    """One line naming the problem, and one with the fix."""
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False, emoji=False)
    if hint:
        err.print(f"[yellow]hint:[/] {escape(hint)}", markup=True, highlight=False, emoji=False)


def print_json(obj: Any) -> None:
    """Machine-readable output: plain JSON on stdout, no colours, no wrapping."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")
    sys.stdout.flush()
