"""The one download path: http(s)/file URL -> verified file, atomically, or a one-line error.

Rules (each one tested against a loopback server that misbehaves on purpose):

- **stall**: at least :data:`STALL_BYTES` must arrive in every ``stall_seconds`` window
  (``ZOOFT_DOWNLOAD_STALL_SECONDS``, default 60), headers included: a server that stops, or
  trickles a byte every few seconds, fails with "stalled" instead of hanging forever;
- **deadline**: the whole download may take at most ``deadline_seconds``
  (``ZOOFT_DOWNLOAD_DEADLINE_SECONDS``, default 6 hours);
- **cut short**: a body shorter than its ``Content-Length``, a broken chunked body or a
  connection reset is "broke off after N bytes"; without a ``Content-Length`` a clean early
  close cannot be told from the end, so the sha256 check (and the archive check after it)
  catch it;
- the body goes to ``.<name>.<pid>-XXXX.part`` beside the destination, is fsynced, checked
  against ``sha256`` and only then renamed onto the destination: readers never see half a file;
- the ``.part`` file is removed on every failure, KeyboardInterrupt and SIGTERM included (SIGTERM
  is turned into an interruption while a download runs in the main thread), and ``.part`` files
  of dead processes (SIGKILL) are removed by the next download into the same folder.

A watchdog thread enforces the stall and deadline rules by shutting the socket down, so even
a read blocked inside the TLS layer or the header parser returns.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import signal
import socket
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .archives import clean_stale
from .errors import OfflineError, Terminated, WeightsError

__all__ = ["STALL_BYTES", "download_file"]

#: Bytes that must arrive within each stall window.
STALL_BYTES = 1024
_DEFAULT_STALL = 60.0
_DEFAULT_DEADLINE = 6 * 3600.0


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        from .errors import ConfigError

        raise ConfigError(f"{name}={raw!r} is not a positive number of seconds", hint=f"e.g. {name}={int(default)}")
    return value


class _Watchdog:
    """Tracks progress; shuts the connection's sockets down on a stall or past the deadline."""

    def __init__(self, stall: float, deadline: float) -> None:
        self.stall, self.deadline = stall, deadline
        self.started = self.mark = time.monotonic()
        self.since_mark = 0
        self.received = 0
        self.reason: str | None = None
        self.sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="zooft-download-watchdog", daemon=True)

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def add_socket(self, sock: socket.socket) -> None:
        with self._lock:
            self.sockets.append(sock)
            if self.reason:  # expired before the connection was made
                self._shutdown()

    def progress(self, n: int) -> None:
        self.received += n
        self.since_mark += n
        if self.since_mark >= STALL_BYTES:
            self.mark, self.since_mark = time.monotonic(), 0

    def check(self) -> None:
        """Set ``reason`` when a rule is broken (also called from the reading thread)."""
        now = time.monotonic()
        if self.reason:
            return
        if now - self.started > self.deadline:
            self.reason = f"it took longer than the {self.deadline:g} s deadline"
        elif now - self.mark > self.stall:
            self.reason = f"it stalled (less than {STALL_BYTES} bytes in {self.stall:g} s)"

    def _shutdown(self) -> None:
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _run(self) -> None:
        tick = min(0.25, self.stall / 4)
        while not self._done.wait(tick):
            self.check()
            if self.reason:
                with self._lock:
                    self._shutdown()
                return


def _opener(watch: _Watchdog, timeout: float) -> urllib.request.OpenerDirector:
    """A urllib opener whose connections report their sockets to the watchdog."""

    def watched(base: type[http.client.HTTPConnection]) -> type[http.client.HTTPConnection]:
        class Connection(base):  # type: ignore[misc, valid-type]
            def connect(self) -> None:
                super().connect()
                watch.add_socket(self.sock)

        return Connection

    http_connection = watched(http.client.HTTPConnection)
    https_connection = watched(http.client.HTTPSConnection)
    context = ssl.create_default_context()

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req: Any) -> Any:
            req.timeout = timeout
            return self.do_open(http_connection, req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: Any) -> Any:
            req.timeout = timeout
            return self.do_open(https_connection, req, context=context)

    return urllib.request.build_opener(HTTPHandler, HTTPSHandler)


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While downloading in the main thread, SIGTERM raises :class:`zooft.errors.Terminated` so the
    ``.part`` file is removed (the default action would kill the process on the spot)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated("terminated (SIGTERM) during a download; the partial file was removed")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):  # not allowed here (embedded interpreter)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _read_body(response: Any, out: Any, watch: _Watchdog, digest: Any,
               progress: Callable[[int, int | None], None] | None, total: int | None) -> int:
    done = 0
    # read1: return whatever one recv brought, so the watchdog's byte count sees a trickle
    read = getattr(response, "read1", None) or response.read
    while True:
        chunk = read(1 << 16)
        watch.check()
        if watch.reason:
            raise TimeoutError(watch.reason)
        if not chunk:
            return done
        out.write(chunk)
        digest.update(chunk)
        done += len(chunk)
        watch.progress(len(chunk))
        if progress:
            progress(done, total)


def download_file(
    url: str,
    dest: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    what: str = "",
    fetch_hint: str = "",
    progress: Callable[[int, int | None], None] | None = None,
    stall_seconds: float | None = None,
    deadline_seconds: float | None = None,
) -> Path:
    """Download ``url`` to ``dest`` under the rules of this module; return ``dest``.

    Network failures (unreachable, stalled, cut short) raise :class:`OfflineError` with
    ``fetch_hint``; an HTTP error status or a sha256 mismatch raises :class:`WeightsError`.
    """
    dest = Path(dest)
    what = what or url
    stall = stall_seconds if stall_seconds is not None else _seconds("ZOOFT_DOWNLOAD_STALL_SECONDS", _DEFAULT_STALL)
    deadline = deadline_seconds if deadline_seconds is not None else _seconds(
        "ZOOFT_DOWNLOAD_DEADLINE_SECONDS", _DEFAULT_DEADLINE)
    hint = fetch_hint or "run the command again, or download the file by hand and import it (zooft pull MODEL --from FILE)"
    dest.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{dest.name}."
    clean_stale(dest.parent, prefix)
    fd, tmp_name = tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}-", suffix=".part", dir=dest.parent)
    done = 0
    try:
        with _sigterm_interrupts(), os.fdopen(fd, "wb") as out, _Watchdog(stall, deadline) as watch:
            digest = hashlib.sha256()
            try:
                response = _opener(watch, stall).open(url)
            except urllib.error.HTTPError as exc:
                raise WeightsError(
                    f"cannot download {what} from {url}: HTTP {exc.code} {exc.reason}",
                    hint="the URL is wrong or the file moved; fix the registry entry or import the file by hand",
                ) from None
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                if url.startswith("file:"):
                    raise WeightsError(f"cannot read {what} from {url}: {getattr(exc, 'reason', exc)}",
                                       hint="check that the file exists") from None
                watch.check()
                reason = watch.reason or getattr(exc, "reason", None) or exc
                raise OfflineError(f"cannot download {what} from {url}: {reason}", hint=hint) from None
            with response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.strip().isdigit() else None
                try:
                    done = _read_body(response, out, watch, digest, progress, total)
                except (http.client.HTTPException, OSError) as exc:
                    done = watch.received
                    watch.check()
                    why = watch.reason or (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
                    raise OfflineError(
                        f"download of {what} from {url} broke off after {done:,} bytes"
                        f"{f' of {total:,}' if total else ''}: {why}",
                        hint=hint,
                    ) from None
            if total is not None and done != total:
                raise OfflineError(
                    f"download of {what} from {url} is incomplete: {done:,} of {total:,} bytes (the connection closed early)",
                    hint=hint,
                )
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if sha256 is not None and actual != sha256:
            raise WeightsError(
                f"{what}: sha256 mismatch for the download from {url}: expected {sha256[:12]}…, got {actual[:12]}…"
                f" ({done:,} bytes)",
                hint="the download is corrupt or not the file the registry names; run the command again, or fix the sha256",
            )
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return dest
