"""HTTP servers on 127.0.0.1 that misbehave on purpose: trickle, stall, cut bodies, reset."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Behaviour = Callable[[socket.socket], None]


@contextmanager
def misbehaving(behaviour: Behaviour) -> Iterator[str]:
    """Serve every connection with ``behaviour(conn)`` (after reading the request); yields a URL."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.1)
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        try:
            conn.settimeout(30)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            behaviour(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/model.tar.gz"
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def _headers(length: int | None = None, chunked: bool = False) -> bytes:
    lines = ["HTTP/1.1 200 OK", "Content-Type: application/octet-stream", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def trickle(conn: socket.socket) -> None:
    """A byte every 0.2 s of a declared 100 kB: never silent long enough for a socket timeout."""
    conn.sendall(_headers(100_000))
    for _ in range(600):
        conn.sendall(b"x")
        time.sleep(0.2)


def silent(conn: socket.socket) -> None:
    """Reads the request, then says nothing at all."""
    time.sleep(30)


def trickle_headers(conn: socket.socket) -> None:
    """The status line, then one header byte every 0.2 s."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    for _ in range(600):
        conn.sendall(b"a")
        time.sleep(0.2)


def steady(conn: socket.socket) -> None:
    """4 kB every 0.1 s: never stalls, but takes long."""
    conn.sendall(_headers(10_000_000))
    for _ in range(2000):
        conn.sendall(b"y" * 4096)
        time.sleep(0.1)


def cut_with_length(conn: socket.socket) -> None:
    """Declares 1000 bytes, sends 500, closes."""
    conn.sendall(_headers(1000) + b"z" * 500)


def cut_chunked(conn: socket.socket) -> None:
    """A chunked body that stops in the middle of a chunk."""
    conn.sendall(_headers(chunked=True) + b"400\r\n" + b"c" * 300)


def reset_without_length(conn: socket.socket) -> None:
    """No Content-Length, 300 bytes, then a TCP reset (SO_LINGER 0)."""
    conn.sendall(_headers() + b"r" * 300)
    time.sleep(0.2)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
