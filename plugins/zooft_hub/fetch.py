"""Getting a TF Hub / Kaggle model into zooft's cache, safely and offline-aware. TensorFlow-free.

Where things live: tensorflow_hub caches a remote handle in ``$TFHUB_CACHE_DIR/<sha1 of the
handle>``; zooft points ``TFHUB_CACHE_DIR`` at ``<cache root>/hub`` and fills *that same
folder* itself, so ``hub.resolve(handle)`` (tensorflow_hub's own resolver, used when the model
is loaded) finds it there and never touches the network again. Models fetched by
tensorflow_hub before are reused as they are.

Why zooft downloads instead of letting tensorflow_hub do it: hub's extractor silently accepts
absolute member paths, it has no sha256 check, no offline switch, and shows progress only in
"interactive" mode. zooft downloads with :func:`zooft.download` (atomic, verified,
progress, one-line errors when the network is unreachable) and unpacks with
:func:`zooft.safe_extract` (no absolute paths, no ``..``, no links out or through links;
folders given to ``--from`` are copied by :func:`zooft.import_tree`), then checks that
the result is a SavedModel. The archive URL of a tfhub.dev/Kaggle handle is formed the way
tensorflow_hub forms it (``?tf-hub-format=compressed``; tfhub.dev redirects to Kaggle Models).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import zooft

# Hosts that serve a model page at the handle and its archive with ?tf-hub-format=compressed.
HUB_HOSTS = ("tfhub.dev", "www.kaggle.com", "kaggle.com", "hub.tensorflow.google.cn")
_SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def is_remote(handle: str) -> bool:
    """True for http(s) handles (tfhub.dev, Kaggle, or any URL of a .tar.gz)."""
    return handle.startswith(("http://", "https://"))


def normalize_handle(text: str) -> str:
    """The handle as tensorflow_hub caches it: URLs unchanged, ``tfhub.dev/…`` and
    ``www.kaggle.com/models/…`` without a scheme get ``https://``, local paths become absolute."""
    text = text.strip()
    if is_remote(text):
        return text
    if text.startswith(tuple(f"{host}/" for host in HUB_HOSTS)):
        return f"https://{text}"
    return str(Path(os.path.expanduser(text)).resolve())


def hub_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``<cache root>/hub``: the ``TFHUB_CACHE_DIR`` zooft gives tensorflow_hub."""
    return (Path(cache_dir).expanduser() if cache_dir else zooft.cache_root()) / "hub"


def module_dir(handle: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where tensorflow_hub (with ``TFHUB_CACHE_DIR`` = :func:`hub_cache_dir`) keeps ``handle``."""
    return hub_cache_dir(cache_dir) / hashlib.sha1(handle.encode("utf8")).hexdigest()


def archive_url(handle: str) -> str:
    """The URL of the handle's .tar.gz: tfhub.dev/Kaggle handles ask for the compressed format,
    as tensorflow_hub's HttpCompressedFileResolver does; other URLs are archives already."""
    parts = urllib.parse.urlsplit(handle)
    if parts.hostname not in HUB_HOSTS:
        return handle
    query = urllib.parse.parse_qsl(parts.query)
    if ("tf-hub-format", "compressed") not in query:
        query.append(("tf-hub-format", "compressed"))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def is_saved_model(path: Path) -> bool:
    """A directory holding ``saved_model.pb`` (or ``.pbtxt``) at its top."""
    return path.is_dir() and any((path / name).is_file() for name in _SAVED_MODEL_FILES)


def _not_a_saved_model(what: str, where: Path, origin: str) -> zooft.WeightsError:
    nested = sorted(str(p.parent.relative_to(where)) for p in where.rglob("saved_model.pb"))[:1] if where.is_dir() else []
    why = f"its saved_model.pb is in {nested[0]!r}, not at the top" if nested else "there is no saved_model.pb in it"
    return zooft.WeightsError(
        f"{what}: {origin} is not a TF2 SavedModel ({why})",
        hint="a hub model is a SavedModel directory, or a .tar.gz of its contents (tar -czf m.tar.gz -C DIR .)",
    )


def _pull_hint(name: str, handle: str, dest: Path) -> str:
    url = archive_url(handle)
    return (
        f"run 'zooft pull {name}' where the network is reachable, or download {url} by hand and run"
        f" 'zooft pull {name} --from FILE.tar.gz' (it is unpacked to {dest})"
    )


def _progress_printer(label: str) -> Any:
    """A download progress callback that draws one line on stderr (rich, when it is a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        state = {"next": 16 << 20}  # small downloads stay silent in logs

        def plain(done: int, total: int | None) -> None:
            if done >= state["next"]:  # every 16 MB: enough to show life in logs, not spam
                shown = f"{done / 1e6:.0f}/{total / 1e6:.0f} MB" if total else f"{done / 1e6:.0f} MB"
                print(f"downloading {label}: {shown}", file=sys.stderr)
                state["next"] = done + (16 << 20)

        return plain, None
    progress = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                        TransferSpeedColumn(), console=console, transient=True)
    task = progress.add_task(f"downloading {label}", total=None)
    progress.start()

    def draw(done: int, total: int | None) -> None:
        progress.update(task, completed=done, total=total)

    return draw, progress


def _install_archive(archive: Path, dest: Path, what: str, origin: str) -> Path:
    """Unpack ``archive`` into ``dest`` (replacing it) and check that it is a SavedModel."""
    zooft.safe_extract(archive, dest)
    if not is_saved_model(dest):
        error = _not_a_saved_model(what, dest, origin)
        shutil.rmtree(dest, ignore_errors=True)  # never leave a broken model where hub would trust it
        raise error
    return dest


def fetch_module(
    spec: zooft.ModelSpec,
    *,
    from_file: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    offline: bool | None = None,
) -> Path:
    """Make ``spec``'s SavedModel available locally and return its directory.

    Local directories are used where they are. Remote handles are looked up in the cache,
    else unpacked from the entry's ``weights: {file:, sha256:}`` archive, or downloaded (the
    entry's ``weights: {url:, sha256:}`` archive when it has one, else the handle's archive)
    and unpacked safely. ``from_file`` imports a .tar.gz fetched by hand (or a
    SavedModel directory, copied). Offline (``offline=True`` or ``ZOOFT_OFFLINE=1``) or with the
    network unreachable, a missing model raises :class:`zooft.OfflineError` naming the handle,
    the cache folder and the ``zooft pull`` commands that fix it.
    """
    handle = normalize_handle(spec.locator)
    what = f"{spec.name} ({handle})" if handle != spec.name.partition(":")[2] else spec.name
    sha256 = spec.weights.sha256 if spec.weights.kind in ("url", "file") else None
    if not is_remote(handle):
        path = Path(handle)
        if from_file is not None:
            raise zooft.ConfigError(
                f"{spec.name} is the local directory {path}; there is nothing to import",
                hint="use it directly with --backbone hub:DIR",
            )
        if not path.exists():
            raise zooft.WeightsError(f"{what}: no such directory", hint="check the path after 'hub:'")
        if not is_saved_model(path):
            raise _not_a_saved_model(what, path, str(path))
        return path
    dest = module_dir(handle, cache_dir)
    if from_file is not None:
        src = Path(from_file)
        if src.is_dir():
            if not is_saved_model(src):
                raise _not_a_saved_model(what, src, str(src))
            # never follows a symlink out of the folder, refuses loops, leaves no debris
            return zooft.import_tree(src, dest, what=what)
        if not src.is_file():
            raise zooft.WeightsError(f"cannot import {what}: no file at {src}", hint="check the path given to --from")
        zooft.verify_sha256(src, sha256, what=what)
        return _install_archive(src, dest, what, str(src))
    if is_saved_model(dest):
        return dest
    if spec.weights.kind == "file" and spec.weights.location:  # an archive next to the registry file
        return fetch_module(spec, from_file=spec.weights.location, cache_dir=cache_dir)
    offline = zooft.is_offline() if offline is None else offline
    hint = _pull_hint(spec.name, handle, dest)
    if offline:
        raise zooft.OfflineError(f"{what} is not in the cache ({dest}) and zooft is offline (ZOOFT_OFFLINE=1)", hint=hint)
    url = spec.weights.location if spec.weights.kind == "url" and spec.weights.location else archive_url(handle)
    archive = hub_cache_dir(cache_dir) / ".downloads" / f"{dest.name}.tar.gz"
    callback, bar = _progress_printer(spec.name)
    try:
        zooft.download(url, archive, sha256=sha256, what=what, fetch_hint=hint, progress=callback)
    except zooft.OfflineError as exc:
        reason = str(exc).rpartition(": ")[2]
        raise zooft.OfflineError(
            f"cannot download {what} from {url} ({reason}); it is not in the cache ({dest})", hint=hint
        ) from None
    finally:
        if bar is not None:
            bar.stop()
    try:
        return _install_archive(archive, dest, what, url)
    finally:
        archive.unlink(missing_ok=True)  # the unpacked model is what is kept; archives can be large


def fetch(
    spec: zooft.ModelSpec,
    *,
    from_file: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    offline: bool | None = None,
) -> Path:
    """``BackboneSource.fetch`` for ``zooft pull``: :func:`fetch_module`."""
    return fetch_module(spec, from_file=from_file, cache_dir=cache_dir, offline=offline)
