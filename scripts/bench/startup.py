"""CLI start-up: ``zooft list-models`` and ``zooft --help`` vs ``python -c "import tensorflow"``.

Each command runs as a fresh process, alternating, N times; the median wall times and their
ratios are printed and appended to BENCHMARKS.md (unless --no-write).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import machine_line, publish  # noqa: E402

COMMANDS = {
    "zooft list-models": [sys.executable, "-m", "zooft", "list-models"],
    "zooft --help": [sys.executable, "-m", "zooft", "--help"],
    "python -c 'import tensorflow'": [sys.executable, "-c", "import tensorflow"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, argv in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    tf_time = medians["python -c 'import tensorflow'"]
    rows = "\n".join(f"| `{name}` | {m:.3f} | {m / tf_time:.3f} |" for name, m in medians.items())
    section = f"""
## CLI start-up vs importing TensorFlow

{machine_line()} · median of {args.runs} fresh processes each, interleaved

| command | median wall time (s) | ratio to `import tensorflow` |
|---|---|---|
{rows}

Command: `.venv/bin/python scripts/bench/startup.py --runs {args.runs}`
"""
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
