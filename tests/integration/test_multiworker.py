"""Two worker processes on 127.0.0.1 train under MultiWorkerMirroredStrategy (TF_CONFIG) to
identical weights, and only the chief writes the shared run directory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

JOIN_DEADLINE = 300  # seconds; a worker whose peer never comes blocks forever and ignores SIGTERM


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def launch(argv: list[str], workers: int, tmp: Path) -> list[tuple[int, str]]:
    """Start ``workers`` processes of ``zooft`` with TF_CONFIG each; SIGKILL all at the deadline."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(workers)]}
    procs = []
    for index in range(workers):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
                   TMPDIR=str(tmp / f"tmp{index}"), TF_CPP_MIN_LOG_LEVEL="2")
        (tmp / f"tmp{index}").mkdir()
        log = open(tmp / f"worker{index}.log", "w")
        procs.append((subprocess.Popen([sys.executable, "-m", "zooft", *argv], env=env, stdout=log, stderr=subprocess.STDOUT), log))
    deadline = time.monotonic() + JOIN_DEADLINE
    try:
        for proc, _log in procs:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass  # stragglers are killed below; their return code (-9) fails the test
    finally:
        for proc, log in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            log.close()
    return [(proc.returncode, (tmp / f"worker{i}.log").read_text()) for i, (proc, _) in enumerate(procs)]


def test_two_workers_train_identical_weights_into_one_run_directory(tmp_path: Path) -> None:
    from zooft.demo.synthetic import write_classify_demo

    data = tmp_path / "data"
    write_classify_demo(data, images_per_class=8, size=32, seed=5)
    shared = tmp_path / "shared"
    argv = ["tune", "--backbone", "embedded", "--image-size", "32", "--data", str(data), "--epochs", "2",
            "--fine-tune-epochs", "1", "--unfreeze", "1", "--batch-size", "8", "--augment", "none",
            "--class-weight", "balanced", "--strategy", "multiworker", "--output", str(shared / "run")]
    results = launch(argv, 2, tmp_path)
    for code, log in results:
        assert code == 0, log[-3000:]
    assert "strategy multiworker, 2 replica(s)" in results[0][1]
    assert "worker 1 is not the chief" in results[1][1]
    # one run directory, written by the chief only
    assert [p.name for p in shared.iterdir()] == ["run"]
    chief = shared / "run"
    other = next((tmp_path / "tmp1").glob("zooft-worker1-*/run"))
    history = json.loads((chief / "history.json").read_text())
    assert [len(p["epochs"]) for p in history["phases"]] == [2, 1]
    assert json.loads((chief / "state.json").read_text())["epochs_done"] == {"head": 2, "fine-tune": 1}
    assert json.loads((chief / "timing.json").read_text())["strategy"] == "multiworker"
    other_history = json.loads((other / "history.json").read_text())
    for key in ("loss", "val_loss", "accuracy"):  # both workers logged the same global numbers
        assert [e[key] for p in history["phases"] for e in p["epochs"]] == [e[key] for p in other_history["phases"] for e in p["epochs"]]
    import keras

    a = keras.saving.load_model(chief / "model.keras")
    b = keras.saving.load_model(other / "model.keras")
    assert len(a.weights) == len(b.weights) > 0
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(np.asarray(wa), np.asarray(wb), err_msg=wa.path)
    # the workers saw different halves of each batch, yet trained (weights moved from the start)
    losses = [e["loss"] for p in history["phases"] for e in p["epochs"]]
    assert all(np.isfinite(losses))
