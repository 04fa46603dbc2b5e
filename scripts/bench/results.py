"""Appending a benchmark's section to BENCHMARKS.md (one place for the file's header)."""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "BENCHMARKS.md"
HEADER = "# Benchmarks\n\nEach section is one run of a script in scripts/bench/, ratios measured side by side.\n"


def machine_line() -> str:
    """Date, machine and Python version, for the top of a section."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"{now} · {platform.machine()}, {os.cpu_count()} cores · Python {platform.python_version()}"


def append_section(section: str) -> None:
    """Add ``section`` (Markdown) at the end of BENCHMARKS.md, creating it if needed."""
    if not BENCHMARKS.exists():
        BENCHMARKS.write_text(HEADER)
    with BENCHMARKS.open("a") as handle:
        handle.write(section)


def publish(section: str, *, write: bool) -> None:
    """Print ``section`` and, unless ``write`` is false (``--no-write``), append it to BENCHMARKS.md."""
    print(section)
    if write:
        append_section(section)


def _cpu_busy(seconds: float = 2.0) -> float | None:
    """The fraction of CPU time spent busy over the next ``seconds`` (Linux /proc/stat), or None."""
    import time

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as handle:
            fields = [int(x) for x in handle.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total

    try:
        idle0, total0 = sample()
        time.sleep(seconds)
        idle1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (idle1 - idle0) / max(total1 - total0, 1)


def load_note() -> str:
    """How busy the machine is right before a benchmark: other jobs make timings noisy (ratios
    measured side by side in one run stay meaningful). Measured as CPU use over two seconds
    rather than the load average, which still counts the previous benchmark of a suite for a
    minute after it ended."""
    busy = _cpu_busy()
    cores = os.cpu_count() or 1
    if busy is None:
        load = os.getloadavg()[0]
        state = "loaded (other jobs running)" if load > 0.5 * cores else "idle"
        return f"Machine {state}: load average {load:.1f} on {cores} cores at the start of this benchmark."
    state = "loaded (other jobs running)" if busy > 0.25 else "idle"
    return f"Machine {state}: {busy:.0%} of {cores} cores busy in the 2 s before this benchmark."
