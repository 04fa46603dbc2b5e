"""The ``zooft`` command line. ``main`` maps every known error to one line plus a hint."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI and exit with its status; tracebacks only with ``ZOOFT_DEBUG=1``."""
    sys.exit(run(argv))


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the exit status instead of exiting (for tests and embedding)."""
    from .. import tfruntime
    from ..errors import Terminated, ZooftError
    from .app import build_app
    from .console import print_error

    debug = os.environ.get("ZOOFT_DEBUG", "") not in ("", "0")
    if not debug:
        # TensorFlow's start-up notices and retracing warnings drown zooft's own output; set
        # before TensorFlow is imported (it is imported lazily by commands)
        tfruntime.quiet()
    tfruntime.lean_keras()  # start-up: Keras's optional scikit-learn/pyplot imports skipped
    tfruntime.freeze_imports()  # collections skip what importing Keras and TensorFlow left
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        tfruntime.configure()
        result = build_app()(args=args, prog_name="zooft", standalone_mode=False)
    except ZooftError as exc:
        if debug:
            raise
        print_error(str(exc), exc.hint)
        return exc.exit_code
    except Terminated as exc:  # SIGTERM while a download was running: cleaned up, say so
        print_error(str(exc), "run the command again to download it")
        return 143
    except KeyboardInterrupt:
        print_error("interrupted", "a run can be continued with 'zooft tune --resume RUN'")
        return 130
    except OSError as exc:
        # disk full, read-only, permission denied, a file where a folder should be: one line
        # naming the path and the fix (zooft.errors.describe_os_error)
        if debug:
            raise
        from ..errors import describe_os_error

        print_error(*describe_os_error(exc))
        return 1
    except Exception as exc:
        # Usage errors of the (vendored) click layer carry format_message/exit_code; keep to
        # duck typing so zooft never depends on click's classes.
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            command = getattr(getattr(exc, "ctx", None), "command_path", "zooft")
            print_error(exc.format_message() + _given_value(exc, args), f"see '{command} --help'")
            return int(exc.exit_code)
        if type(exc).__name__ == "Abort":
            print_error("aborted", None)
            return 1
        if debug:
            raise
        print_error(
            f"unexpected {type(exc).__name__}: {exc}",
            "this is a bug in zooft or a plugin; re-run with ZOOFT_DEBUG=1 for the traceback and report it",
        )
        return 1
    return result if isinstance(result, int) else 0


def _given_value(exc: Exception, args: list[str]) -> str:
    """`` (got 'abc')`` for a bad option value, found in argv by the option's names."""
    for opt in getattr(getattr(exc, "param", None), "opts", None) or ():
        for i, arg in enumerate(args):
            if arg == opt and i + 1 < len(args):
                return f" (got {args[i + 1]!r})"
            if arg.startswith(opt + "="):
                return f" (got {arg.split('=', 1)[1]!r})"
    return ""
