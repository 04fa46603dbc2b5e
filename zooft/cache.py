"""zooft's cache: one root for every download, verified, written atomically, reusable offline."""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any
from pathlib import Path

from .errors import OfflineError, WeightsError

_TRUE = {"1", "true", "yes", "on"}


def cache_root() -> Path:
    """``ZOOFT_HOME``, else ``$XDG_CACHE_HOME/zooft``, else ``~/.cache/zooft``."""
    if os.environ.get("ZOOFT_HOME"):
        return Path(os.environ["ZOOFT_HOME"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "zooft"


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
    unreachable network, with ``fetch_hint`` telling the user how to get the file another way.
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
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=30)  # noqa: S310 - http(s)/file by design
            except urllib.error.HTTPError as exc:
                raise WeightsError(
                    f"cannot download {what} from {url}: HTTP {exc.code} {exc.reason}",
                    hint="the URL is wrong or the file moved; fix the registry entry or import the file by hand",
                ) from None
            except (urllib.error.URLError, OSError) as exc:
                if url.startswith("file://"):
                    raise WeightsError(
                        f"cannot read {what} from {url}: {getattr(exc, 'reason', exc)}",
                        hint="check that the file exists",
                    ) from None
                reason = getattr(exc, "reason", exc)
                raise OfflineError(
                    f"cannot download {what} from {url}: {reason}",
                    hint=fetch_hint or "check the network, or download the file by hand and import it",
                ) from None
            with response:
                total = response.headers.get("Content-Length")
                total_bytes = int(total) if total and total.isdigit() else None
                done = 0
                try:
                    for chunk in iter(lambda: response.read(1 << 20), b""):
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total_bytes)
                except (http.client.HTTPException, OSError) as exc:
                    raise OfflineError(
                        f"download of {what} from {url} broke off after {done} bytes: {exc}",
                        hint=fetch_hint or "run the command again; the partial file was discarded",
                    ) from None
                if total_bytes is not None and done != total_bytes:
                    raise OfflineError(
                        f"download of {what} from {url} is incomplete: {done} of {total_bytes} bytes",
                        hint="run the command again; the partial file was discarded",
                    )
        verify_sha256(tmp_name, sha256, what=what)
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return dest


def import_file(src: str | os.PathLike[str], dest: str | os.PathLike[str], *, sha256: str | None, what: str) -> Path:
    """Copy a file the user fetched by hand into the cache, verified, atomically."""
    src, dest = Path(src), Path(dest)
    if not src.is_file():
        raise WeightsError(f"cannot import {what}: no file at {src}", hint="check the path given to --from")
    verify_sha256(src, sha256, what=what)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp_name)
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return dest


def safe_extract(archive: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Extract a tar archive into ``dest`` atomically, refusing members that could escape it.

    Absolute paths, ``..`` components, device files and links that point outside are
    rejected with :class:`WeightsError` before anything is written.
    """
    archive, dest = Path(archive), Path(dest)
    try:
        tar = tarfile.open(archive)
    except (tarfile.TarError, OSError) as exc:
        raise WeightsError(f"{archive} is not a readable tar archive: {exc}", hint="fetch the archive again") from None
    with tar:
        for member in tar.getmembers():
            name = member.name
            parts = Path(name).parts
            if name.startswith(("/", "\\")) or ".." in parts:
                raise WeightsError(f"{archive}: unsafe member path {name!r}", hint="this archive is not to be trusted")
            if member.isdev():
                raise WeightsError(f"{archive}: device file {name!r} in archive", hint="this archive is not to be trusted")
            if member.issym() or member.islnk():
                target = Path(name).parent / member.linkname if member.issym() else Path(member.linkname)
                if member.linkname.startswith("/") or ".." in Path(os.path.normpath(target)).parts:
                    raise WeightsError(
                        f"{archive}: link {name!r} points outside the archive ({member.linkname!r})",
                        hint="this archive is not to be trusted",
                    )
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        try:
            tar.extractall(tmp, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(tmp)
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return dest


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
