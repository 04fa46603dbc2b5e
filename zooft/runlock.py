"""One writer per run directory: ``runs/<name>/.lock``.

``zooft tune`` (new runs and ``--resume``) and ``zooft export`` hold the lock while they write
into a run. A second process that tries gets a one-line :class:`RunError` naming the holder's
pid, host and start time, and how to break a stale lock.

The lock is an ``flock`` on the ``.lock`` file where the platform has it: the kernel drops it
when the holder dies, however it dies, so a lock left by a killed process is never stale. The
file also records ``pid host started``; where ``flock`` is missing (or on a file system
without it) a lock file whose pid is dead on this host is taken over. Within one process the
lock is re-entrant (``tune --export`` exports while it holds the lock).
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import RunError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "clean_run_debris", "run_lock"]

LOCK_NAME = ".lock"
_held: dict[str, tuple[int, int]] = {}  # real run path -> (fd, depth) held by this process


def _holder(path: Path) -> tuple[int | None, str, str]:
    try:
        fields = path.read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        return None, "?", "?"
    pid = int(fields[0]) if fields and fields[0].isdigit() else None
    return pid, fields[1] if len(fields) > 1 else "?", " ".join(fields[2:]) or "?"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _busy(run_dir: Path, lock: Path) -> RunError:
    pid, host, started = _holder(lock)
    who = f"pid {pid}" if pid else "another process"
    return RunError(
        f"run directory {run_dir} is in use by another zooft process ({who} on {host}, since {started})",
        hint=f"wait for it to finish; if that process is gone (e.g. on another machine), delete {lock}",
    )


def _acquire(run_dir: Path) -> int:
    lock = run_dir / LOCK_NAME
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise _busy(run_dir, lock) from None
            except OSError:  # a file system without flock: fall back to the pid check
                _check_pid(run_dir, lock)
        else:  # pragma: no cover - Windows
            _check_pid(run_dir, lock)
        stamp = f"{os.getpid()} {socket.gethostname()} {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n"
        os.ftruncate(fd, 0)
        os.write(fd, stamp.encode())
        return fd
    except BaseException:
        os.close(fd)
        raise


def _check_pid(run_dir: Path, lock: Path) -> None:
    pid, host, _ = _holder(lock)
    if pid and pid != os.getpid() and host == socket.gethostname() and _alive(pid):
        raise _busy(run_dir, lock)


@contextmanager
def run_lock(run_dir: str | os.PathLike[str]) -> Iterator[None]:
    """Hold ``run_dir``'s lock for the ``with`` block; raise :class:`RunError` when another
    process holds it. ``run_dir`` must exist."""
    path = Path(run_dir)
    key = os.path.realpath(path)
    if key in _held:
        fd, depth = _held[key]
        _held[key] = (fd, depth + 1)
    else:
        _held[key] = (_acquire(path), 1)
    try:
        yield
    finally:
        fd, depth = _held[key]
        if depth > 1:
            _held[key] = (fd, depth - 1)
        else:
            del _held[key]
            # the file stays (unlinking it would race with a process about to lock it); the
            # kernel lock goes with the descriptor
            os.close(fd)


def clean_run_debris(run_dir: str | os.PathLike[str]) -> list[str]:
    """Remove what an interrupted process left in a run (call with the lock held): temporary
    files of atomic writes (``.tmp-*``) in the run and its ``checkpoints/``, and half-written or
    half-replaced exports (``exports/.tmp-*``, ``exports/.old-*``). Returns the names removed."""
    root = Path(run_dir)
    removed = []
    for folder in (root, root / "checkpoints", root / "exports"):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if not entry.name.startswith((".tmp-", ".old-")):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                Path(entry.path).unlink(missing_ok=True)
            removed.append(os.path.relpath(entry.path, root))
    return removed
