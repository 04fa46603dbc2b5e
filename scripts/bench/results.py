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


def load_note() -> str:
    """The 1-minute load average: other jobs on the machine make timings noisy (ratios measured
    side by side in one run stay meaningful)."""
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    state = "loaded (other jobs running)" if load > 0.5 * cores else "idle"
    return f"Machine {state}: load average {load:.1f} on {cores} cores at the start of this benchmark."
