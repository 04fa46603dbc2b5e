"""Every error zooft raises on purpose.

Each class also subclasses the builtin it refines, so callers that already catch
``KeyError`` or ``ValueError`` keep working. The CLI prints ``str(error)`` as one
line and ``error.hint`` as the fix; a traceback appears only with ``ZOOFT_DEBUG=1``.
"""

from __future__ import annotations


class ZooftError(Exception):
    """Base class: a problem the user can fix, with a one-line message and a hint."""

    exit_code: int = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:  # KeyError would otherwise wrap the message in quotes
        return self.message


class UnknownModelError(ZooftError, KeyError):
    """A model name that is in no registry file."""


class RegistryError(ZooftError, ValueError):
    """A registry file that cannot be read, or an entry that breaks the schema."""


class PluginError(ZooftError, RuntimeError):
    """A plugin that failed to import, raised in a hook, or collided with another."""


class ConfigError(ZooftError, ValueError):
    """A configuration value or key that is not valid."""


class OfflineError(ZooftError, ConnectionError):
    """Something must be downloaded, but zooft is offline or the network is unreachable."""


class WeightsError(ZooftError, OSError):
    """Weights that are missing, corrupt, or fail their sha256 check."""


class DataError(ZooftError, ValueError):
    """A data set that is missing, empty, malformed or holds bad files."""


class RunError(ZooftError, FileNotFoundError):
    """A run directory that is missing or incomplete."""


class ExportError(ZooftError, RuntimeError):
    """An export that could not be written or reloaded."""


class ParityError(ExportError):
    """An exported artifact whose outputs drift from the trained model beyond tolerance."""


class Terminated(BaseException):
    """SIGTERM arrived while zooft was writing something it must clean up (a download).

    A ``BaseException`` like ``KeyboardInterrupt``, so that no ``except Exception`` swallows
    it and every ``finally``/cleanup runs; the CLI exits with status 143 (128 + SIGTERM)."""


def describe_os_error(exc: OSError) -> tuple[str, str]:
    """``(message, hint)`` for an operating-system error that reached the user: what failed, on
    which path, and what to do. Used by the CLI for every ``OSError`` that is not a ZooftError."""
    import errno

    path = exc.filename if exc.filename is not None else None
    where = f" {path}" if path else ""
    other = f" -> {exc.filename2}" if getattr(exc, "filename2", None) else ""
    code = exc.errno
    resume = "a tune run continues with 'zooft tune --resume RUN'"
    if code == errno.ENOSPC:
        return (f"no space left on the device writing{where}{other}",
                f"free disk space or write elsewhere (--output, ZOOFT_HOME), then run the command again; {resume}")
    if code == errno.EDQUOT:
        return (f"disk quota exceeded writing{where}{other}", f"free space within your quota, then run again; {resume}")
    if code == errno.EROFS:
        return (f"read-only file system:{where}{other}", "write to another folder (--output, ZOOFT_HOME)")
    if code in (errno.EACCES, errno.EPERM):
        return (f"permission denied:{where}{other}",
                "check the permissions of that path, or write to another folder (--output, ZOOFT_HOME)")
    if code == errno.ENOTDIR:
        return (f"not a folder:{where}{other} (a file is in the way of a folder on that path)",
                "move the file away, or choose another path (--output, ZOOFT_HOME)")
    if code == errno.EISDIR:
        return (f"is a folder, a file was expected:{where}{other}", "pass a file path")
    if code == errno.EEXIST:
        return (f"already exists:{where}{other}", "choose another path or remove the old one")
    if code == errno.ENOENT:
        return (f"no such file or folder:{where}{other}", "check the path")
    if code == errno.EMFILE or code == errno.ENFILE:
        return ("too many open files", "raise the limit (ulimit -n) or use fewer data loader threads")
    if code == errno.ENAMETOOLONG:
        return (f"file name too long:{where}", "choose a shorter path")
    text = exc.strerror or str(exc) or type(exc).__name__
    return (f"{text}:{where}{other}" if path else f"{type(exc).__name__}: {text}",
            "check the path and the disk, then run the command again")
