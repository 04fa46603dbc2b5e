"""Run directories under concurrency and faults: one writer at a time, no debris after a kill,
a truncated model named as such, and OS errors (disk full, read-only, a file in the way) as one
line naming the path."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import zooft
import zooft.runs
from zooft.config import resolve
from zooft.registry import resolve_model
from zooft.runlock import LOCK_NAME, clean_run_debris, run_lock
from zooft.runs import Run, atomic_write, write_json_atomic

from .conftest import ROOT, Cli, one_line_error, tree


def resumable_run(path: Path, data: Path) -> Path:
    """A run directory as an interrupted 'zooft tune' leaves it (config, labels, data index)."""
    spec = resolve_model("embedded")
    config = resolve(flags={"backbone": spec.name, "data": str(data), "image_size": "32", "output": str(path)})
    path.mkdir(parents=True)
    write_json_atomic(path / "config.json", {**config.to_json(), "backbone_spec": spec.to_dict()})
    write_json_atomic(path / "labels.json", {"classes": ["a", "b"]})
    write_json_atomic(path / "data.json", {"format": "image-folder", "root": str(data), "classes": ["a", "b"], "splits": {}})
    return path


HOLDER = textwrap.dedent("""
    import sys, time
    from zooft.runlock import run_lock
    with run_lock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(120)
""")


def test_second_resume_of_a_running_run_fails_naming_the_holder(cli: Cli, tmp_path: Path) -> None:
    run = resumable_run(tmp_path / "run", tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        status, _, err = cli("tune", "--resume", str(run))
        assert status == 1
        line = one_line_error(err, str(run), "in use by another zooft process", f"pid {holder.pid}")
        assert "delete" in err and LOCK_NAME in err  # how to break a stale lock
        assert line
    finally:
        holder.kill()
        holder.wait(timeout=10)
    # the holder died without unlocking (SIGKILL): its lock is stale and is taken over
    assert f"{holder.pid} " in (run / LOCK_NAME).read_text()
    with run_lock(run):
        with run_lock(run):  # re-entrant within one process (tune --export exports under it)
            assert (run / LOCK_NAME).read_text().split()[0] == str(os.getpid())
    assert sorted(tree(run)) == [LOCK_NAME, "config.json", "data.json", "labels.json"]


def test_debris_of_a_killed_export_or_write_is_removed_on_resume(tmp_path: Path) -> None:
    run = resumable_run(tmp_path / "run", tmp_path)
    (run / "exports" / ".tmp-tflite-abc123").mkdir(parents=True)
    (run / "exports" / ".tmp-tflite-abc123" / "model.tflite").write_bytes(b"half")
    (run / "exports" / ".old-onnx-1234").mkdir()
    (run / "exports" / "onnx").mkdir()  # a finished export stays
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / ".tmp-xyzhead-e001.weights.npz").write_bytes(b"half")
    (run / ".tmp-abcmodel.keras").write_bytes(b"half")
    removed = clean_run_debris(run)
    assert len(removed) == 4
    assert tree(run) == ["checkpoints", "config.json", "data.json", "exports", "exports/onnx", "labels.json"]


def test_truncated_model_is_reported_as_truncated(tmp_path: Path) -> None:
    run = resumable_run(tmp_path / "run", tmp_path)
    for content in (b"", b"PK\x03\x04" + b"\0" * 100):
        (run / "model.keras").write_bytes(content)
        with pytest.raises(zooft.RunError, match=r"corrupt or truncated model file .*model\.keras") as info:
            Run.open(run).load_model()
        assert "File not found" not in str(info.value)


def test_zooft_home_that_is_a_file_is_one_line(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    monkeypatch.setenv("ZOOFT_HOME", str(home))
    status, _, err = cli("pull", "keras:mobilenet_v2")
    assert status == 1
    one_line_error(err, "ZOOFT_HOME", str(home), "not a folder")


@pytest.mark.parametrize(
    ("code", "expected", "hint"),
    [
        (errno.ENOSPC, "no space left on the device writing", "--resume"),
        (errno.EROFS, "read-only file system", "--output"),
        (errno.EACCES, "permission denied", "permissions"),
        (errno.ENOTDIR, "not a folder", "file is in the way"),
    ],
)
def test_os_errors_while_writing_name_the_path(code: int, expected: str, hint: str, cli: Cli, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # the demo-data writer hits the fault in the middle of its files (as a full disk would)
    real_write = Path.write_bytes
    calls = {"n": 0}

    def failing(self: Path, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(code, os.strerror(code), str(self))
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing)
    import PIL.Image

    real_save = PIL.Image.Image.save

    def failing_save(self: PIL.Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(code, os.strerror(code), str(fp))
        real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(PIL.Image.Image, "save", failing_save)
    status, _, err = cli("demo-data", "classify", str(tmp_path / "shapes"))
    assert status == 1
    line = one_line_error(err, expected, str(tmp_path))  # the file it was writing (in its staging folder)
    assert hint in err and "unexpected" not in line
    assert tree(tmp_path) == []  # the half-written data set was removed


def test_atomic_write_names_the_real_path_and_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    target.write_text("old")

    def disk_full(tmp: str) -> None:
        with open(tmp, "w") as handle:
            handle.write("half")
        raise OSError(errno.ENOSPC, "No space left on device")  # as file.write() raises it: no path

    with pytest.raises(OSError) as info:
        atomic_write(target, disk_full)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    assert target.read_text() == "old" and tree(tmp_path) == ["metrics.json"]
    assert zooft.errors.describe_os_error(info.value)[0] == f"no space left on the device writing {target}"
