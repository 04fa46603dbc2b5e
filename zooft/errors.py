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
