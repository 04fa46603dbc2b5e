"""The one safe path for putting files someone else made into zooft's cache.

Two ways in, the same guarantees: nothing is written outside the destination, the destination
appears whole or not at all, and no temporary folder is left behind (not even after SIGKILL:
the next attempt removes what a dead process left).

:func:`safe_extract` (tar archives: hub models, ``zooft pull --from FILE.tar.gz``) checks every
member *before anything is written* and refuses the whole archive when one member is

- an absolute path, a path with ``..``, an empty name or a name with a NUL byte;
- a device, FIFO or other special file;
- a symlink whose target is absolute or leaves the destination (resolved component by
  component from the link's folder), or whose target passes *through* another link;
- a member whose path passes through a symlink of the archive (``l1 -> sub/..`` then
  ``l1/x``), whatever the order of the members: together with the previous rule this makes
  link chains such as ``l1 -> sub/..``, ``l2 -> l1/..``, ``l2/outside/x`` impossible;
- a hard link whose target is not a regular file earlier in the archive;
- a name given twice where either is a link;
- more than :data:`MAX_MEMBERS` members or more than ``ZOOFT_MAX_ARCHIVE_GB`` (default 50 GB)
  unpacked.

This check is complete on its own; Python's ``tarfile`` "data" filter is still applied where it
exists (Python >= 3.10.12 / 3.11.4 / 3.12), as a second fence. Permissions are reduced to
rwx for the owner and r-x for others (no setuid bits, nothing world-writable).

:func:`import_tree` (``zooft pull --from DIR``) copies a folder without ever following a
symlink out of it: a link to a file or folder inside is copied as what it names, a link out,
a dangling link, a special file or a link loop is refused with the path. The walk is
iterative (no recursion limit).
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import WeightsError
from .swap import swap_into_place

__all__ = ["MAX_MEMBERS", "clean_stale", "import_tree", "safe_extract", "staging_dir"]

#: Most members one archive may hold.
MAX_MEMBERS = 200_000
_DEFAULT_MAX_GB = 50
_UNTRUSTED = "this archive is not to be trusted: nothing was unpacked; get the file from its original source"
# tarfile's own "data" filter where this Python has it; tests set this to "fully_trusted" to
# prove zooft's own check is complete without it
_TAR_FILTER: str | None = "data" if hasattr(tarfile, "data_filter") else None


# ---------------------------------------------------------------------------------------------
# Staging folders that never outlive their process
# ---------------------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def clean_stale(parent: Path, prefix: str) -> None:
    """Remove ``parent/<prefix><pid>-*`` entries whose process ``pid`` is gone (debris of a
    SIGKILLed import, extraction or download)."""
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        pid_text = entry.name[len(prefix):].split("-", 1)[0].split(".", 1)[0]
        if not pid_text.isdigit() or _pid_alive(int(pid_text)):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            Path(entry.path).unlink(missing_ok=True)


@contextmanager
def staging_dir(dest: Path, kind: str) -> Iterator[Path]:
    """A hidden temporary folder beside ``dest`` (``.<name>.<kind>-<pid>-XXXX``), removed on any
    failure, KeyboardInterrupt included; stale ones of dead processes are removed first."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{dest.name}.{kind}-"
    clean_stale(dest.parent, prefix)
    tmp = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=dest.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(tmp, ignore_errors=True)  # normally moved into place already


def _install(tmp: Path, dest: Path) -> None:
    """Put ``tmp`` at ``dest``, replacing an old ``dest`` (moved aside first, then deleted)."""
    swap_into_place(tmp, dest, dest.with_name(f".{dest.name}.old-{os.getpid()}-{os.urandom(4).hex()}"))


# ---------------------------------------------------------------------------------------------
# Tar archives
# ---------------------------------------------------------------------------------------------


def _max_bytes() -> int:
    raw = os.environ.get("ZOOFT_MAX_ARCHIVE_GB", "").strip()
    try:
        value = float(raw) if raw else float(_DEFAULT_MAX_GB)
    except ValueError:
        value = -1.0
    if not value > 0:
        from .errors import ConfigError

        raise ConfigError(f"ZOOFT_MAX_ARCHIVE_GB={raw!r} is not a positive number", hint="e.g. ZOOFT_MAX_ARCHIVE_GB=100")
    return int(value * 10**9)


def _parts(name: str) -> tuple[str, ...] | None:
    """The member's path components, or None when it is absolute or climbs with ``..``."""
    if not name or "\0" in name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return None
    parts = tuple(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))
    if any(p == ".." for p in parts):
        return None
    return parts


def _through_link(parts: tuple[str, ...], links: set[tuple[str, ...]]) -> tuple[str, ...] | None:
    """The first proper prefix of ``parts`` that is a symlink member, else None."""
    for i in range(1, len(parts)):
        if parts[:i] in links:
            return parts[:i]
    return None


def _link_target(parts: tuple[str, ...], target: str, links: set[tuple[str, ...]]) -> str | None:
    """Why the symlink at ``parts`` pointing to ``target`` is unsafe, or None.

    The target is walked from the link's folder one component at a time: ``..`` may not climb
    above the destination, and no component before the last may be a link (its own target
    would then decide where the rest goes)."""
    if not target or target.startswith(("/", "\\")) or (len(target) > 1 and target[1] == ":") or "\0" in target:
        return f"it points outside the archive (its target {target!r} is absolute)"
    here = list(parts[:-1])
    components = [p for p in target.replace("\\", "/").split("/") if p not in ("", ".")]
    for index, part in enumerate(components):
        if part == "..":
            if not here:
                return f"it points outside the archive (its target {target!r} climbs above it)"
            here.pop()
            continue
        here.append(part)
        if tuple(here) in links and index < len(components) - 1:
            return f"its target {target!r} passes through the link {'/'.join(here)!r}"
    if tuple(here) == parts:
        return f"it points at itself ({target!r})"
    return None


def check_members(archive: Path, members: list[tarfile.TarInfo]) -> None:
    """Raise :class:`WeightsError` naming the first unsafe member (see the module docstring)."""
    if len(members) > MAX_MEMBERS:
        raise WeightsError(f"{archive}: {len(members):,} members, more than {MAX_MEMBERS:,}", hint=_UNTRUSTED)
    limit = _max_bytes()
    total = sum(m.size for m in members if m.isfile())
    if total > limit:
        raise WeightsError(
            f"{archive}: unpacks to {total / 1e9:.1f} GB, above the {limit / 1e9:g} GB limit",
            hint="raise ZOOFT_MAX_ARCHIVE_GB if this model is really that large",
        )
    parsed: list[tuple[tarfile.TarInfo, tuple[str, ...]]] = []
    for member in members:
        parts = _parts(member.name)
        if parts is None:
            raise WeightsError(f"{archive}: unsafe member path {member.name!r} (absolute or with '..')", hint=_UNTRUSTED)
        if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
            kind = "device file" if member.isdev() else "FIFO" if member.isfifo() else "special file"
            raise WeightsError(f"{archive}: {kind} {member.name!r} in archive", hint=_UNTRUSTED)
        parsed.append((member, parts))
    links = {parts for member, parts in parsed if member.issym() or member.islnk()}
    seen: dict[tuple[str, ...], tarfile.TarInfo] = {}
    files: set[tuple[str, ...]] = set()
    for member, parts in parsed:
        earlier = seen.get(parts)
        if earlier is not None and (earlier.issym() or earlier.islnk() or member.issym() or member.islnk()):
            raise WeightsError(f"{archive}: {member.name!r} appears twice, once as a link", hint=_UNTRUSTED)
        seen[parts] = member
        via = _through_link(parts, links)
        if via is not None:
            raise WeightsError(
                f"{archive}: member {member.name!r} lies behind the link {'/'.join(via)!r}", hint=_UNTRUSTED
            )
        if member.issym():
            why = _link_target(parts, member.linkname, links)
            if why:
                raise WeightsError(f"{archive}: link {member.name!r} is unsafe: {why}", hint=_UNTRUSTED)
        elif member.islnk():
            target = _parts(member.linkname)
            if target is None or target not in files:
                raise WeightsError(
                    f"{archive}: hard link {member.name!r} points outside the archive or at no earlier file"
                    f" ({member.linkname!r})",
                    hint=_UNTRUSTED,
                )
        elif member.isfile():
            files.add(parts)
        else:
            files.discard(parts)


def _sanitize(member: tarfile.TarInfo) -> tarfile.TarInfo:
    # no setuid/setgid/sticky bits, nothing group/world-writable, the owner can always read
    member.mode = (member.mode & 0o755) | (0o700 if member.isdir() else 0o600)
    member.uid = member.gid = os.getuid() if hasattr(os, "getuid") else 0
    member.uname = member.gname = ""
    return member


def safe_extract(archive: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Extract the tar archive ``archive`` into ``dest`` (replacing it) after checking every
    member; see the module docstring. Raises :class:`WeightsError` naming the archive and the
    first unsafe member; nothing is written then."""
    archive, dest = Path(archive), Path(dest)
    try:
        tar = tarfile.open(archive)
    except (tarfile.TarError, OSError) as exc:
        detail = str(exc).splitlines()[0].rstrip(":") if str(exc) else type(exc).__name__
        raise WeightsError(
            f"{archive} is not a readable tar archive ({detail})",
            hint="zooft unpacks .tar, .tar.gz, .tar.bz2 and .tar.xz files; fetch the archive again",
        ) from None
    with tar:
        try:
            members = tar.getmembers()
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise WeightsError(f"{archive} is a damaged tar archive ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})",
                               hint="fetch the archive again") from None
        check_members(archive, members)
        with staging_dir(dest, "unpack") as tmp:
            checked = [_sanitize(m) for m in members]
            try:
                if _TAR_FILTER is not None:
                    tar.extractall(tmp, members=checked, filter=_TAR_FILTER)
                else:  # pragma: no cover - Python without tarfile filters
                    tar.extractall(tmp, members=checked)
            except (tarfile.TarError, EOFError) as exc:
                raise WeightsError(f"{archive} is a damaged tar archive: {exc}", hint="fetch the archive again") from None
            _install(tmp, dest)
    return dest


# ---------------------------------------------------------------------------------------------
# Folders
# ---------------------------------------------------------------------------------------------


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def import_tree(src: str | os.PathLike[str], dest: str | os.PathLike[str], *, what: str = "folder") -> Path:
    """Copy the folder ``src`` to ``dest`` (replacing it) without leaving ``src``.

    Symlinks are resolved: one naming a file or folder inside ``src`` is copied as what it
    names; one naming anything outside ``src``, a missing target, or a folder already being
    copied (a loop) raises :class:`WeightsError` naming the link. Only regular files and
    folders are copied (a FIFO or device is refused). Nothing is left behind on failure."""
    src, dest = Path(src), Path(dest)
    root = os.path.realpath(src)
    if not os.path.isdir(root):
        raise WeightsError(f"cannot import {what}: {src} is not a folder", hint="check the path given to --from")
    with staging_dir(dest, "import") as tmp:
        # (source path as the user sees it, real path, target folder, real folders above it)
        stack: list[tuple[str, str, Path, frozenset[str]]] = [(str(src), root, tmp, frozenset([root]))]
        copied = 0
        while stack:
            shown, real_dir, target, ancestors = stack.pop()
            with os.scandir(real_dir) as entries:
                listing = sorted(entries, key=lambda e: e.name)
            for entry in listing:
                path = posixpath.join(shown, entry.name)
                copied += 1
                if copied > MAX_MEMBERS:  # links to inner folders can multiply a small tree
                    raise WeightsError(f"cannot import {what}: {src} holds more than {MAX_MEMBERS:,} entries"
                                       " (counting what its symlinks name)", hint="import the real files only")
                real = os.path.realpath(entry.path)
                if entry.is_symlink():
                    if not _inside(real, root):
                        raise WeightsError(
                            f"cannot import {what}: {path} is a symlink to {os.readlink(entry.path)!r}, outside {src}",
                            hint="copy the real files into the folder (cp -rL) and import that",
                        )
                    if not os.path.exists(real):
                        raise WeightsError(f"cannot import {what}: {path} is a broken symlink", hint="remove or fix it")
                info = os.stat(real) if os.path.exists(real) else os.lstat(entry.path)
                if stat.S_ISDIR(info.st_mode):
                    if real in ancestors:
                        raise WeightsError(
                            f"cannot import {what}: {path} is a symlink loop (it leads back to {real})",
                            hint="remove the link that points to a folder above it",
                        )
                    (target / entry.name).mkdir()
                    stack.append((path, real, target / entry.name, ancestors | {real}))
                elif stat.S_ISREG(info.st_mode):
                    shutil.copyfile(real, target / entry.name, follow_symlinks=True)
                else:
                    raise WeightsError(
                        f"cannot import {what}: {path} is not a regular file or folder", hint="remove it from the folder"
                    )
        _install(tmp, dest)
    return dest
