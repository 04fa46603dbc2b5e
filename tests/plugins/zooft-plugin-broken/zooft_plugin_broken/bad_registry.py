"""Ships a registry file with a YAML error."""

from __future__ import annotations

from pathlib import Path

import zooft


@zooft.hookimpl
def zooft_registry_files() -> list[Path]:
    """``bad.yaml``: malformed."""
    return [Path(__file__).with_name("bad.yaml")]
