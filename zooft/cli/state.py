"""Global CLI options shared by commands (set by the root callback)."""

from __future__ import annotations

registry_files: list[str] = []


def registry():  # type: ignore[no-untyped-def]
    """The merged registry, honouring ``--registry`` and ``ZOOFT_REGISTRY``."""
    from ..registry import load_registry

    return load_registry(registry_files)


def resolve_model(name: str):  # type: ignore[no-untyped-def]
    """A registry entry, or an ad-hoc ``source:locator`` its source plugin resolves."""
    from ..registry import resolve_model as resolve

    return resolve(name, registry_files)
