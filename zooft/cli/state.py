"""Global CLI options shared by commands (set by the root callback)."""

from __future__ import annotations

registry_files: list[str] = []


def registry():  # type: ignore[no-untyped-def]
    """The merged registry, honouring ``--registry`` and ``ZOOFT_REGISTRY``."""
    from ..registry import load_registry

    return load_registry(registry_files)
