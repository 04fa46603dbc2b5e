"""The mirrored-strategy code path, on two logical CPU devices (no GPU needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = """
import sys, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from zooft.cli import run
sys.exit(run(sys.argv[1:]))
"""


def test_tune_under_mirrored_strategy_on_two_logical_cpus(tmp_path: Path) -> None:
    from zooft.demo.synthetic import write_classify_demo

    data = tmp_path / "data"
    write_classify_demo(data, images_per_class=8, size=32, seed=2)
    out = tmp_path / "run"
    argv = ["tune", "--backbone", "embedded", "--image-size", "32", "--data", str(data), "--epochs", "1",
            "--batch-size", "8", "--strategy", "mirrored", "--augment", "none", "--output", str(out)]
    proc = subprocess.run([sys.executable, "-c", SCRIPT, *argv], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "strategy mirrored, 2 replica(s)" in proc.stderr
    timing = json.loads((out / "timing.json").read_text())
    assert timing["strategy"] == "mirrored"
    assert (out / "model.keras").is_file()
