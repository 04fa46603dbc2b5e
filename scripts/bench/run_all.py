"""Run the whole benchmark suite and append every section to BENCHMARKS.md.

    .venv/bin/python scripts/bench/run_all.py            # the figures in BENCHMARKS.md
    .venv/bin/python scripts/bench/run_all.py --quick --no-write   # a smoke run (tests use it)

Each benchmark is its own script (and process), measuring its ratio side by side in one run;
this driver writes a header (machine, versions, date, load, this command), then runs them in
order. The zooft run trained by the comparison with Keras is reused for the throughput and
latency figures. Needs the ``bench`` and ``test`` extras (tf_keras, scikit-learn).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from results import append_section, load_note, machine_line  # noqa: E402


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def plan(args: argparse.Namespace, run_dir: Path) -> list[list[str]]:
    """The scripts and their arguments, full or --quick (tiny, for the tests)."""
    q = args.quick
    size = ["--image-size", "32"] if q else []
    # the same comparisons on photo-sized JPEGs and at 224 px: too slow for a smoke run
    full_only = (lambda *steps: []) if q else (lambda *steps: list(steps))
    return [
        ["startup.py", "--runs", "1" if q else "7"],
        ["pipeline.py", "--epochs", "1" if q else "3", *size],
        *full_only(["pipeline.py", "--epochs", "3", "--data", "photos"]),
        # medians of 3 alternated pairs: one pair's ratio moved by up to 40 % between suite runs
        ["feature_cache.py", "--epochs", "2" if q else "5", "--repeats", "1" if q else "3", *size],
        ["feature_cache.py", "--epochs", "2" if q else "5", "--copies", "2" if q else "5", "--repeats", "1" if q else "3", *size],
        *full_only(["feature_cache.py", "--epochs", "5", "--image-size", "224", "--repeats", "3"],
                   ["feature_cache.py", "--epochs", "5", "--image-size", "224", "--copies", "5", "--repeats", "3"]),
        # every recipe over several seeds: single runs move by ~2 accuracy points and ~15 % in time
        ["classify_vs_keras.py", "--epochs", "1" if q else "3", "--fine-tune-epochs", "1" if q else "3",
         "--fine-tune-lr", "0.0001", "--seeds", "1" if q else "3", "--keep-run", str(run_dir), *size],
        *full_only(["classify_vs_keras.py", "--epochs", "3", "--fine-tune-epochs", "3", "--fine-tune-lr", "0.0001",
                    "--seeds", "3", "--data", "photos"]),
        # the classic frozen-base recipe trains the head only (zooft's default too): where the
        # feature cache counts, and where the three recipes' accuracies are closest
        ["classify_vs_keras.py", "--epochs", "2" if q else "10", "--fine-tune-epochs", "0", "--seeds", "1" if q else "5", *size],
        *full_only(["classify_vs_keras.py", "--epochs", "10", "--fine-tune-epochs", "0", "--seeds", "5", "--data", "photos"]),
        ["throughput.py", "--run", str(run_dir)],
        ["latency.py", "--run", str(run_dir), "--runs", "5" if q else "50"],
        ["memory.py", "--scale", "2" if q else "10", *(["--image-size", "32"] if q else [])],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny settings: checks the scripts run, numbers are meaningless")
    parser.add_argument("--no-write", action="store_true", help="print the sections, do not touch BENCHMARKS.md")
    parser.add_argument("--only", nargs="*", help="script names to run (default: all)")
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="zooft-bench-run-")) / "run"
    command = "    .venv/bin/python scripts/bench/run_all.py" + (" --quick" if args.quick else "")
    versions = " · ".join(f"{n} {_version(n)}" for n in ("zooft", "tensorflow", "keras", "tf_keras"))
    header = f"""
# Suite run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}

{machine_line()} · {versions}

{load_note()} Every ratio below is measured side by side within one script run, so it holds
even when absolute times are slowed by other jobs.

Produced by:

{command}
"""
    if not args.no_write:
        append_section(header)
    print(header)
    extra = ["--no-write"] if args.no_write else []
    for script, *script_args in plan(args, run_dir):
        if args.only and script not in args.only and script.removesuffix(".py") not in args.only:
            continue
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(HERE / script), *script_args, *extra], capture_output=True, text=True, check=False)
        print(proc.stdout)
        if proc.returncode:
            print(f"{script} FAILED ({proc.returncode}):\n{proc.stderr[-3000:]}", file=sys.stderr)
            raise SystemExit(proc.returncode)
        print(f"[{script}: {time.perf_counter() - start:.0f}s]", file=sys.stderr)


if __name__ == "__main__":
    main()
