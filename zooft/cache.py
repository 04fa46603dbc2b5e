"""zooft's cache: one root for every download, verified, written atomically, reusable offline."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .archives import clean_stale
from .archives import import_tree as _import_tree
from .archives import safe_extract as _safe_extract
from .data.files import DataFileError, check_data_file
from .errors import ConfigError, OfflineError, WeightsError

_TRUE = {"1", "true", "yes", "on"}


def cache_root() -> Path:
    """``ZOOFT_HOME``, else ``$XDG_CACHE_HOME/zooft``, else ``~/.cache/zooft``.

    Raises :class:`ConfigError` when that path exists and is not a folder (a file in the way
    would otherwise surface as a bare ``NotADirectoryError`` deep inside a download)."""
    if os.environ.get("ZOOFT_HOME"):
        root, name = Path(os.environ["ZOOFT_HOME"]).expanduser(), "ZOOFT_HOME"
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root, name = Path(base) / "zooft", "the cache folder"
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{name} {root} is not a folder (a file is in the way)",
                          hint="point ZOOFT_HOME at a folder, or move the file away")
    return root


def is_offline() -> bool:
    """True when ``ZOOFT_OFFLINE`` is set to a true value: zooft then never touches the network."""
    return os.environ.get("ZOOFT_OFFLINE", "").strip().lower() in _TRUE


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in chunks so large weights never sit in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike[str], expected: str | None, *, what: str) -> None:
    """Raise :class:`WeightsError` when ``path`` does not hash to ``expected`` (if given)."""
    if expected is None:
        return
    actual = sha256_file(path)
    if actual != expected:
        raise WeightsError(
            f"{what}: sha256 mismatch for {path}: expected {expected[:12]}…, got {actual[:12]}…",
            hint="the file is corrupt or not the one the registry names; delete it and fetch it again",
        )


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    what: str = "",
    fetch_hint: str = "",
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Fetch ``url`` (http, https or file) to ``dest`` atomically and verify it.

    An existing ``dest`` that passes the sha256 check is reused without any network access.
    Offline (``ZOOFT_OFFLINE=1``) with no cached file raises :class:`OfflineError`; so does an
    unreachable, stalled or cut-off download, with ``fetch_hint`` telling the user how to get
    the file another way. The transfer itself is :func:`zooft.transfer.download_file` (stall
    rule, deadline, ``.part`` cleanup, sha256 check, atomic rename).
    """
    dest = Path(dest)
    what = what or url
    if dest.is_file():
        verify_sha256(dest, sha256, what=what)
        return dest
    if is_offline():
        raise OfflineError(
            f"{what} is not in the cache ({dest}) and ZOOFT_OFFLINE=1 forbids downloading it",
            hint=fetch_hint or f"unset ZOOFT_OFFLINE and run again, or place the file at {dest}",
        )
    from .transfer import download_file  # urllib/ssl only when something is downloaded

    return download_file(url, dest, sha256=sha256, what=what, fetch_hint=fetch_hint, progress=progress)


def import_file(src: str | os.PathLike[str], dest: str | os.PathLike[str], *, sha256: str | None, what: str) -> Path:
    """Copy a file the user fetched by hand into the cache, verified, atomically.

    Only a regular file is imported (a FIFO or device given to ``--from`` is refused unread)."""
    src, dest = Path(src), Path(dest)
    try:
        check_data_file(src, max_bytes=1 << 62)  # weights may be large: no size cap here
    except DataFileError as exc:
        raise WeightsError(f"cannot import {what}: {src} is {exc.reason}", hint="check the path given to --from") from None
    verify_sha256(src, sha256, what=what)
    dest.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{dest.name}."
    clean_stale(dest.parent, prefix)
    fd, tmp_name = tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}-", suffix=".part", dir=dest.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp_name)
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return dest


def safe_extract(archive: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Extract a tar archive into ``dest`` atomically, refusing the whole archive when one member
    could escape it (absolute paths, ``..``, devices, links out, paths through links):
    :func:`zooft.archives.safe_extract`."""
    return _safe_extract(archive, dest)


def import_tree(src: str | os.PathLike[str], dest: str | os.PathLike[str], *, what: str = "folder") -> Path:
    """Copy a folder into the cache atomically without following any symlink out of it:
    :func:`zooft.archives.import_tree`."""
    return _import_tree(src, dest, what=what)


def fingerprint_files(paths: Iterable[str], digest: Any = None) -> Any:
    """Feed every path with its size and modification time into ``digest`` (a new sha256 when
    ``None``) and return it: a fingerprint of a data set that changes when a file is replaced,
    touched or missing, without reading the files. Cache names built from it never serve stale
    data (tf.data and the feature cache reuse whatever file carries the name)."""
    digest = hashlib.sha256() if digest is None else digest
    for path in paths:
        try:
            stat = os.stat(path)
            stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        digest.update(f"\0{path}\0{stamp}".encode())
    return digest
