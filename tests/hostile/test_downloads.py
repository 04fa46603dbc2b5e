"""Downloads from servers that misbehave: each ends by itself with one line, leaves no ``.part``."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import zooft
from zooft.transfer import download_file

from . import servers
from .conftest import ROOT, Cli, one_line_error, tree

sys.path.insert(0, str(ROOT / "tests" / "integration"))
from loopback import serve  # noqa: E402


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        (servers.trickle, "stalled"),
        (servers.silent, "stalled"),
        (servers.trickle_headers, "stalled"),
        (servers.cut_with_length, "incomplete: 500 of 1,000 bytes"),
        (servers.cut_chunked, "broke off after"),
        (servers.reset_without_length, "broke off after"),
    ],
    ids=["trickle", "silent", "trickle-headers", "cut-with-length", "cut-chunked", "reset-without-length"],
)
def test_bad_server_ends_in_one_error_without_debris(behaviour: servers.Behaviour, expected: str, tmp_path: Path) -> None:
    with servers.misbehaving(behaviour) as url:
        started = time.monotonic()
        with pytest.raises(zooft.OfflineError) as info:
            download_file(url, tmp_path / "m.tar.gz", what="test model", stall_seconds=1.0, deadline_seconds=20)
        elapsed = time.monotonic() - started
    assert expected in str(info.value) and url in str(info.value) and "\n" not in str(info.value)
    assert elapsed < 10  # ended by itself, long before the deadline
    assert tree(tmp_path) == []  # no .part left


def test_deadline_ends_a_slow_but_steady_download(tmp_path: Path) -> None:
    with servers.misbehaving(servers.steady) as url:
        with pytest.raises(zooft.OfflineError, match="longer than the 1 s deadline"):
            download_file(url, tmp_path / "m.bin", stall_seconds=5, deadline_seconds=1)
    assert tree(tmp_path) == []


def test_pull_from_a_trickling_server_is_one_line(cli: Cli, zooft_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOFT_DOWNLOAD_STALL_SECONDS", "1")
    with servers.misbehaving(servers.trickle) as url:
        status, _, err = cli("pull", f"hub:{url}")
    assert status == 1
    one_line_error(err, url, "stalled")
    assert not [p for p in tree(zooft_env) if p.endswith(".part")]


def test_sha256_mismatch_keeps_nothing_and_good_file_is_atomic(tmp_path: Path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / "w.bin").write_bytes(b"weights" * 1000)
    digest = hashlib.sha256((www / "w.bin").read_bytes()).hexdigest()
    out = tmp_path / "cache"
    with serve(www) as base:
        with pytest.raises(zooft.WeightsError, match="sha256 mismatch"):
            download_file(f"{base}/w.bin", out / "w.bin", sha256="0" * 64)
        assert tree(out) == []
        assert download_file(f"{base}/w.bin", out / "w.bin", sha256=digest).read_bytes() == b"weights" * 1000
    assert tree(out) == ["w.bin"]


def test_part_files_of_dead_processes_are_removed(tmp_path: Path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / "w.bin").write_bytes(b"w")
    out = tmp_path / "cache"
    out.mkdir()
    (out / ".w.bin.999999999-abcd.part").write_bytes(b"half")  # left by a SIGKILLed download
    with serve(www) as base:
        download_file(f"{base}/w.bin", out / "w.bin")
    assert tree(out) == ["w.bin"]


def test_sigterm_during_pull_removes_the_part_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with servers.misbehaving(servers.trickle) as url:
        proc = subprocess.Popen(
            [sys.executable, "-m", "zooft", "pull", f"hub:{url}"], cwd=ROOT, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "ZOOFT_HOME": str(home), "ZOOFT_DOWNLOAD_STALL_SECONDS": "60"},
        )
        deadline = time.monotonic() + 30
        while not list(home.rglob("*.part")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(home.rglob("*.part")), "the download never started"
        time.sleep(0.3)  # some bytes are in
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    one_line_error(err, "SIGTERM")
    assert not list(home.rglob("*.part"))
