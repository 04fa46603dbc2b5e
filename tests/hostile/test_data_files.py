"""Data files that are not what they claim: FIFOs and devices named like images, CSV rows naming
/dev/zero, NUL bytes, decompression bombs, oversized files. Each is refused without being read."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

import zooft
from zooft.config import resolve
from zooft.data.check import inspect_image
from zooft.runs import write_json_atomic

from .conftest import Cli, one_line_error, tree, zooft_subprocess


def image_folder(root: Path) -> Path:
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (20, 20), (40 * i, 90, 0)).save(root / label / f"{i}.png")
    return root


@pytest.fixture
def hostile_folder(tmp_path: Path) -> Iterator[Path]:
    """Two good classes, plus a FIFO, a link to /dev/zero and a socket, all named *.png."""
    data = image_folder(tmp_path / "data")
    os.mkfifo(data / "a" / "fifo.png")
    (data / "a" / "zero.png").symlink_to("/dev/zero")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(data / "b" / "sock.png"))
    yield data
    sock.close()


def test_special_files_in_an_image_folder_are_named_not_read(hostile_folder: Path, tmp_path: Path) -> None:
    # a subprocess with a timeout and a memory limit: without the rule, open() of the FIFO
    # blocks forever and /dev/zero is read until memory runs out
    proc = zooft_subprocess("tune", "--backbone", "embedded", "--data", str(hostile_folder), "--output",
                            str(tmp_path / "run"), timeout=60, limit_memory=True)
    assert proc.returncode == 1, proc.stderr
    line = one_line_error(proc.stderr, "3 problems", "fifo.png: a named pipe (FIFO)", "zero.png: a character device")
    assert "sock.png: a socket" in line
    assert not (tmp_path / "run").exists()


def test_skipped_files_are_listed_on_the_console(hostile_folder: Path, tmp_path: Path) -> None:
    taken = tmp_path / "taken"  # a non-empty --output stops the run right after the data check
    taken.mkdir()
    (taken / "x").write_text("x")
    proc = zooft_subprocess("tune", "--backbone", "embedded", "--data", str(hostile_folder), "--output", str(taken),
                            "--skip-bad-files", timeout=60, limit_memory=True)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("skipped 3 bad files (--skip-bad-files)"), proc.stderr
    assert any("fifo.png: a named pipe" in line for line in lines[1:4])
    assert any("sock.png: a socket" in line for line in lines[1:4])
    one_line_error(proc.stderr, "already exists")


def test_csv_row_naming_dev_zero_is_refused_unread(tmp_path: Path) -> None:
    data = image_folder(tmp_path / "images")
    rows = ["path,label", "/dev/zero,a", *(f"{c}/{i}.png,{c}" for c in "ab" for i in range(3))]
    (data / "list.csv").write_text("\n".join(rows) + "\n")
    proc = zooft_subprocess("tune", "--backbone", "embedded", "--data", str(data / "list.csv"), "--output",
                            str(tmp_path / "run"), timeout=60, limit_memory=True)
    assert proc.returncode == 1
    one_line_error(proc.stderr, "/dev/zero", "character device")


def test_csv_itself_being_a_fifo_or_holding_a_nul_byte(cli: Cli, tmp_path: Path) -> None:
    data = image_folder(tmp_path / "images")
    (data / "nul.csv").write_bytes(b"path,label\na/0.png,a\x00\nb/0.png,b\n")
    status, _, err = cli("tune", "--backbone", "embedded", "--data", str(data / "nul.csv"), "--output", str(tmp_path / "r"))
    assert status == 1
    one_line_error(err, "nul.csv line 2", "NUL byte")
    with pytest.raises(zooft.DataFileError, match="named pipe"):
        os.mkfifo(tmp_path / "fifo.csv")
        zooft.read_data_file(tmp_path / "fifo.csv")


def _png_header_only(path: Path, width: int, height: int) -> Path:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    return path


def test_decompression_bombs_and_huge_files_are_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = _png_header_only(tmp_path / "bomb.png", 100_000, 100_000)  # 10 gigapixels in 60 bytes
    assert "too large" in (inspect_image(str(bomb)) or "")
    small = tmp_path / "small.png"
    Image.new("RGB", (40, 40)).save(small)
    assert inspect_image(str(small)) is None
    monkeypatch.setenv("ZOOFT_MAX_IMAGE_PIXELS", "1000")  # our own limit, below Pillow's
    assert "40x40 pixels is above the limit of 1,000 pixels" in (inspect_image(str(small)) or "")
    monkeypatch.delenv("ZOOFT_MAX_IMAGE_PIXELS")
    huge = tmp_path / "huge.png"
    with open(huge, "wb") as handle:
        handle.truncate(3 * 10**6)  # sparse
    monkeypatch.setenv("ZOOFT_MAX_FILE_MB", "1")
    assert "above the 1 MB limit" in (inspect_image(str(huge)) or "")


def test_root_confines_reads_and_symlinks_resolve(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    (root / "ok.txt").write_text("ok")
    assert zooft.read_data_file(root / "ok.txt", root=root) == b"ok"
    with pytest.raises(zooft.DataFileError, match="outside the data folder"):
        zooft.read_data_file(root / "link.txt", root=root)
    assert zooft.read_data_file(root / "link.txt") == b"secret"  # documented: no root, no confinement
    (root / "loop.txt").symlink_to("loop.txt")
    with pytest.raises(zooft.DataFileError, match="symlink loop"):
        zooft.read_data_file(root / "loop.txt")
    assert zooft.check_data_file(root / "ok.txt").st_size == 2


def test_text_folder_with_a_fifo_reports_it(tmp_path: Path) -> None:
    data = tmp_path / "texts"
    for label in ("pos", "neg"):
        (data / label).mkdir(parents=True)
        (data / label / "1.txt").write_text(f"a {label} text")
    os.mkfifo(data / "pos" / "2.txt")
    code = ("import zooft, zooft_text.folders as f\n"
            "try:\n    f.load(%r)\nexcept zooft.DataError as e:\n    print(e)\n" % str(data))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "pos/2.txt: a named pipe (FIFO), not a regular file" in proc.stdout, proc.stdout + proc.stderr


def _fake_run(path: Path) -> Path:
    """A run directory as 'zooft tune' leaves it, with a truncated model.keras (no TensorFlow)."""
    path.mkdir()
    config = resolve(flags={"backbone": "embedded", "data": "x", "image_size": "32"})
    write_json_atomic(path / "config.json", {**config.to_json(), "backbone_spec": {"source": "keras"}})
    write_json_atomic(path / "labels.json", {"classes": ["a", "b"]})
    (path / "model.keras").write_bytes(b"PK\x03\x04 truncated")
    return path


def test_predict_refuses_special_files_and_expands_folders(cli: Cli, tmp_path: Path) -> None:
    run = _fake_run(tmp_path / "run")
    os.mkfifo(tmp_path / "fifo.png")
    status, _, err = cli("predict", str(run), str(tmp_path / "fifo.png"))
    assert status == 1
    one_line_error(err, "fifo.png", "named pipe")
    (tmp_path / "empty").mkdir()
    status, _, err = cli("predict", str(run), str(tmp_path / "empty"))
    assert status == 1
    one_line_error(err, "no image files in the folder")
    status, _, err = cli("predict", str(run), str(tmp_path / "nope.png"))
    one_line_error(err, "no such file or folder")
    image_folder(tmp_path / "imgs")  # a folder of images is expanded; this run's model is truncated
    status, _, err = cli("predict", str(run), str(tmp_path / "imgs"))
    assert status == 1
    one_line_error(err, "corrupt or truncated model file", "model.keras")
    assert tree(run) == ["config.json", "labels.json", "model.keras"]
