"""The one rule for opening a file zooft reads as data: regular files only, size-capped.

Every data file (images, CSV/TSV/JSONL, text files, annotation files), registry file and
config file is read through :func:`read_data_file`, which

- ``stat``s the path *before* opening it and refuses anything that is not a regular file (a
  FIFO named ``x.png`` would block ``open()`` forever, ``/dev/zero`` would be read until memory
  runs out, a directory or socket cannot be read at all);
- refuses a file larger than ``max_bytes`` (default :func:`max_file_bytes`:
  ``ZOOFT_MAX_FILE_MB``, 512 MB unless set), again before reading it;
- opens with ``O_NONBLOCK`` and checks with ``fstat`` that it opened the very file it checked
  (a path swapped for a FIFO in between cannot block), then reads at most ``max_bytes``;
- with ``root`` given, refuses a path whose real location (symlinks resolved) lies outside
  ``root``.

Where data may live: zooft's own loaders do **not** confine data to its folder (a CSV may list
absolute paths or ``../`` paths, and symlinked class folders are followed), because real data
sets are assembled that way; what is read is always a bounded regular file. Pass ``root`` to
confine a read (e.g. for a file named inside an untrusted annotation file).

Errors are :class:`DataFileError` (a :class:`zooft.DataError`) carrying ``path`` and a short
``reason``, so a data check can list the file instead of failing.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ..errors import DataError

__all__ = ["DEFAULT_MAX_FILE_MB", "DataFileError", "check_data_file", "max_file_bytes", "read_data_file"]

#: The size cap of one data file unless ``ZOOFT_MAX_FILE_MB`` says otherwise.
DEFAULT_MAX_FILE_MB = 512

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class DataFileError(DataError):
    """A data file that may not be read: missing, not a regular file, too large, outside its root.

    ``path`` is the file, ``reason`` the short why (``"a named pipe (FIFO), not a regular file"``).
    """

    def __init__(self, path: str, reason: str, hint: str | None = None) -> None:
        super().__init__(f"cannot read {path}: {reason}", hint=hint or "pass a regular file")
        self.path = path
        self.reason = reason


def max_file_bytes() -> int:
    """The size cap of one data file: ``ZOOFT_MAX_FILE_MB`` (megabytes, 10**6) or 512 MB."""
    raw = os.environ.get("ZOOFT_MAX_FILE_MB", "").strip()
    if not raw:
        return DEFAULT_MAX_FILE_MB * 10**6
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        from ..errors import ConfigError

        raise ConfigError(f"ZOOFT_MAX_FILE_MB={raw!r} is not a positive number", hint="e.g. ZOOFT_MAX_FILE_MB=2048")
    return int(value * 10**6)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _inside(path: str, root: str | os.PathLike[str]) -> bool:
    real = os.path.realpath(path)
    base = os.path.realpath(root)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def check_data_file(
    path: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    max_bytes: int | None = None,
) -> os.stat_result:
    """Check, without opening it, that ``path`` may be read as data; return its ``stat``.

    Raises :class:`DataFileError` for a missing path, anything but a regular file (symlinks are
    followed to what they name), a file above ``max_bytes`` (default :func:`max_file_bytes`)
    and, with ``root``, a file whose real location is outside ``root``.
    """
    text = os.fspath(path)
    limit = max_file_bytes() if max_bytes is None else max_bytes
    try:
        info = os.stat(text)
    except FileNotFoundError:
        broken = os.path.islink(text)
        raise DataFileError(text, "a symlink to a missing file" if broken else "no such file",
                            hint="check the path") from None
    except NotADirectoryError:
        raise DataFileError(text, "a component of the path is a file, not a folder", hint="check the path") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DataFileError(text, "a symlink loop", hint="fix or remove the symlink") from None
        raise DataFileError(text, exc.strerror or str(exc), hint="check the file's permissions") from None
    if not stat.S_ISREG(info.st_mode):
        raise DataFileError(text, f"{_kind(info.st_mode)}, not a regular file",
                            hint="data files must be regular files; remove or replace it")
    if root is not None and not _inside(text, root):
        raise DataFileError(text, f"outside the data folder {os.fspath(root)} (resolves to {os.path.realpath(text)})",
                            hint="copy the file into the data folder")
    if info.st_size > limit:
        raise DataFileError(text, f"{info.st_size / 1e6:.1f} MB, above the {limit / 1e6:g} MB limit for one data file",
                            hint="raise the limit with ZOOFT_MAX_FILE_MB if the file is meant to be this large")
    return info


def read_data_file(
    path: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    max_bytes: int | None = None,
) -> bytes:
    """The bytes of the data file ``path``, read under the rule in this module's docstring.

    Raises :class:`DataFileError` (see :func:`check_data_file`); never blocks on a FIFO or
    device and never reads more than ``max_bytes`` (default :func:`max_file_bytes`).
    """
    text = os.fspath(path)
    limit = max_file_bytes() if max_bytes is None else max_bytes
    checked = check_data_file(text, root=root, max_bytes=limit)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(text, flags)
    except OSError as exc:
        raise DataFileError(text, exc.strerror or str(exc), hint="check the file's permissions") from None
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (checked.st_dev, checked.st_ino):
            raise DataFileError(text, "the file changed while it was being opened", hint="run the command again")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # the file grew after the check
                raise DataFileError(text, f"grew above the {limit / 1e6:g} MB limit while being read",
                                    hint="raise the limit with ZOOFT_MAX_FILE_MB")
        return b"".join(chunks)
    except OSError as exc:
        raise DataFileError(text, exc.strerror or str(exc), hint="check the file and the disk") from None
    finally:
        os.close(fd)


def data_file_problem(path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None) -> str | None:
    """The reason ``path`` may not be read as data, or ``None`` (for checks that list problems)."""
    try:
        check_data_file(path, root=root)
    except DataFileError as exc:
        return exc.reason
    return None


def is_within(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """True when ``path``'s real location (symlinks resolved) is ``root`` or inside it."""
    return _inside(os.fspath(path), Path(root))
