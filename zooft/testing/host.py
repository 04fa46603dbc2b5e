"""An isolated plugin host: only the named plugins, a private ``ZOOFT_HOME``, restored after."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

_SWITCHES = ("ZOOFT_PLUGINS", "ZOOFT_DISABLE_PLUGINS", "ZOOFT_DISABLE_PLUGIN_AUTOLOAD", "ZOOFT_HOME", "ZOOFT_REGISTRY")


@contextlib.contextmanager
def isolated_host(
    plugins: Iterable[str] = (), *, objects: Iterable[tuple[str, object]] = (), home: str | os.PathLike[str] | None = None
) -> Iterator[Any]:
    """Within the block, zooft sees only the entry points named in ``plugins`` (plus plugin
    ``objects`` given as ``(name, module_or_object)``, registered like entry points) and caches
    under ``home`` (a new temporary directory by default). Yields the host; the process-wide host
    and the environment switches are restored on exit.

    ``with isolated_host(["classify", "images", "myplugin"]) as host: host.task("regress")``
    """
    from .. import plugins as plugins_module
    from ..plugins import PluginHost, reset_host

    saved = {key: os.environ.get(key) for key in _SWITCHES}
    previous = plugins_module._HOST  # restored on exit: a test must not leak its host
    with contextlib.ExitStack() as stack:
        root = Path(home) if home is not None else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zooft-home-")))
        try:
            os.environ["ZOOFT_PLUGINS"] = ",".join(plugins)
            os.environ["ZOOFT_HOME"] = str(root)
            for key in ("ZOOFT_DISABLE_PLUGINS", "ZOOFT_DISABLE_PLUGIN_AUTOLOAD", "ZOOFT_REGISTRY"):
                os.environ.pop(key, None)
            host = PluginHost(plugins=list(objects))
            reset_host(host)
            yield host
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            reset_host(previous)
