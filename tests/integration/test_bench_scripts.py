"""The benchmark scripts run (on tiny settings); their numbers live in BENCHMARKS.md, not here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "scripts" / "bench"


def test_startup_benchmark_runs_without_writing(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "startup.py"), "--runs", "1", "--no-write"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| `zooft list-models` |" in proc.stdout and "import tensorflow" in proc.stdout


@pytest.mark.slow
def test_digits_are_written_as_stratified_image_folders(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        from datasets import write_digits
    finally:
        sys.path.remove(str(BENCH))
    counts = write_digits(tmp_path / "digits", size=16)
    assert counts == {"train": 1078, "val": 269, "test": 450}
    assert sorted(p.name for p in (tmp_path / "digits" / "test").iterdir()) == [str(d) for d in range(10)]
