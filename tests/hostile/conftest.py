"""Helpers for the hostile-input suite: drive the real CLI, assert one-line errors, find debris.

Every test here builds a hostile input (an archive that escapes, a server that trickles, a
FIFO named like an image, an alias bomb ...) and asserts the one-line error, the exit status,
that nothing was written outside the destination and that no temporary file is left. No test
imports TensorFlow.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import zooft.cli

ROOT = Path(__file__).resolve().parents[2]
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """``cli("pull", "x")`` -> ``(exit status, stdout, stderr)`` of the real CLI, in process."""

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        status = zooft.cli.run(list(args))
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def one_line_error(err: str, *needles: str) -> str:
    """Assert ``err`` is ``error: ...`` plus at most a ``hint: ...`` line, holding ``needles``."""
    lines = [line for line in err.strip().splitlines() if line.strip()]
    errors = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    assert errors, err
    tail = lines[errors[0]:]
    assert 1 <= len(tail) <= 2 and (len(tail) == 1 or tail[1].startswith("hint: ")), err
    assert "Traceback" not in err and "unexpected" not in tail[0], err
    for needle in needles:
        assert needle in tail[0], (needle, err)
    return tail[0]


def tree(path: Path) -> list[str]:
    """Every entry under ``path`` (relative, sorted), hidden ones included: debris shows up."""
    if not path.exists():
        return []
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def zooft_subprocess(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
                     limit_memory: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``python -m zooft ARGS`` with a timeout (for inputs that would hang the test process
    if their protection were removed) and, optionally, a 2 GB address-space limit."""
    full_env = {**os.environ, **(env or {})}

    def limits() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    return subprocess.run(
        [sys.executable, "-m", "zooft", *args], capture_output=True, text=True, timeout=timeout, env=full_env,
        cwd=ROOT, preexec_fn=limits if limit_memory else None,
    )
