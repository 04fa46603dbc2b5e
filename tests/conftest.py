"""Shared test setup: every test gets a private cache and a fresh plugin host.

Kept TensorFlow-free on purpose: unit tests must not pay for (or depend on) a TensorFlow
import, and ``tests/unit/test_meta.py`` checks that the CLI path never imports it.

All tests run by default — there is no ``--runslow`` switch. Tests that train or convert real
models carry the ``slow`` marker (declared in pyproject.toml) only so that ``-m "not slow"``
can deselect them for a quick loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import zooft.cli.state
import zooft.plugins

# Variables that change what zooft loads or where it writes; a developer's shell must not leak
# them into the tests (each test sets what it needs with monkeypatch).
ZOOFT_ENV = (
    "ZOOFT_OFFLINE",
    "ZOOFT_REGISTRY",
    "ZOOFT_PLUGINS",
    "ZOOFT_DISABLE_PLUGINS",
    "ZOOFT_DISABLE_PLUGIN_AUTOLOAD",
    "ZOOFT_DEBUG",
    "ZOOFT_MAX_FILE_MB",
    "ZOOFT_MAX_IMAGE_PIXELS",
    "ZOOFT_MAX_ARCHIVE_GB",
    "ZOOFT_DOWNLOAD_STALL_SECONDS",
    "ZOOFT_DOWNLOAD_DEADLINE_SECONDS",
)


@pytest.fixture(autouse=True)
def zooft_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point ``ZOOFT_HOME`` at a fresh directory, clear zooft's switches, reset the plugin host."""
    home = tmp_path_factory.mktemp("zooft-home")
    monkeypatch.setenv("ZOOFT_HOME", str(home))
    for name in ZOOFT_ENV:
        monkeypatch.delenv(name, raising=False)
    # The host reads the environment when it is built, so a host left over from another test
    # (built under other switches) must not be reused.
    zooft.plugins.reset_host()
    monkeypatch.setattr(zooft.cli.state, "registry_files", [])
    yield home
    zooft.plugins.reset_host()
