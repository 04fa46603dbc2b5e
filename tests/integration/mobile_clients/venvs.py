"""Separate virtual environments for on-device client libraries (MediaPipe, TFLite Task Library).

The clients cannot share zooft's venv (tflite-support was built against numpy 1 and pulls its
own protobuf; MediaPipe brings its own flatbuffers/protobuf pins), so each gets a venv of its
own, created once and reused: ``<repo>/.venv-clients/<name>`` (gitignored), or under
``ZOOFT_CLIENTS_DIR``. When a venv cannot be made (no network, no wheel for this Python) or the
client cannot be imported (a missing system library), :func:`client_python` calls
``pytest.skip`` with the reason: the test is skipped, never passed silently.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
INSTALL_TIMEOUT = 900  # seconds; a first install of mediapipe downloads ~40 MB
# what to install, and what must import afterwards (the venv counts as ready only then)
CLIENTS = {
    "mediapipe": (["mediapipe"], "import mediapipe; from mediapipe.tasks.python import vision, text"),
    "tflite-support": (["tflite-support"], "from tflite_support.task import vision, text"),
}


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip() and not line.startswith("WARNING: Location")]
    return lines[-1][:300] if lines else "(no output)"


def client_python(name: str) -> Path:
    """The python of the ``name`` client's venv, created on first use; skips if impossible."""
    packages, probe = CLIENTS[name]
    base = Path(os.environ.get("ZOOFT_CLIENTS_DIR") or ROOT / ".venv-clients")
    venv = base / name
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    base.mkdir(parents=True, exist_ok=True)
    # Test modules that share a client may run at once (pytest -n): one creates it, the others wait.
    with open(base / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _create(name, venv, python, stamp, packages)
    check = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=120)
    if check.returncode != 0:
        hint = " (apt-get install libusb-1.0-0)" if "libusb" in check.stderr else ""
        pytest.skip(f"{name} is installed in {venv} but does not import: {_last_line(check.stderr)}{hint}")
    return python


def _create(name: str, venv: Path, python: Path, stamp: Path, packages: list[str]) -> None:
    """Create the venv and install ``packages`` unless ``stamp`` says it is done; skips if impossible."""
    if not stamp.exists():
        try:
            if not python.exists():
                subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, text=True, timeout=300)
            done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", *packages],
                                  capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        except (subprocess.SubprocessError, OSError) as exc:
            pytest.skip(f"cannot create the {name} client venv in {venv}: {exc}")
        if done.returncode != 0:
            pytest.skip(f"cannot install {' '.join(packages)} into {venv} (offline?): {_last_line(done.stderr)}")
        stamp.write_text(" ".join(packages) + "\n", encoding="utf-8")
