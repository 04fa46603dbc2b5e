"""What the feature cache's extraction pass costs a plain ``zooft tune``, and what sets it.

Variants of the same default ``zooft tune --backbone embedded --task classify --data DIR``,
each a fresh process, alternating (for each data set and repeat, every variant in turn):
- ``shipped``: the backbone traced with its weights as graph constants (Keras
  ``stateless_call``), batches of :data:`zooft.train.feature_cache.EXTRACT_BATCH` images;
- ``variables``: the same with the weights read from their variables (as before);
- ``batch 32`` / ``batch 128``: constants, other extraction batch sizes.

Reported per data set: median wall time, per-repeat wall ratio, the head phase (extraction and
the head epochs on cached features, from timing.json) and the test accuracy (the variants
change float rounding only).

    .venv/bin/python scripts/bench/extraction.py --data digits --data textures --repeats 3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from alternating import alternate, plain_tune, ratio_table, tune_once  # noqa: E402
from results import load_note, machine_line, publish  # noqa: E402

_CLI = "sys.exit(zooft.cli.run(sys.argv[1:]))"


def _patched(setting: str) -> str:
    """The CLI with one assignment to ``zooft.train.feature_cache`` made before it starts."""
    return f"import sys, zooft.cli, zooft.train.feature_cache as fc; fc.{setting}; {_CLI}"


#: How each variant starts the CLI (``python -c CODE tune ...``).
VARIANTS = {
    "shipped": f"import sys, zooft.cli; {_CLI}",
    "variables": _patched("FROZEN_MAX_BYTES = -1"),
    "batch 32": _patched("EXTRACT_BATCH = 32"),
    "batch 128": _patched("EXTRACT_BATCH = 128"),
}

#: What each variant does, for the section's text.
DESCRIPTIONS = {
    "shipped": "`shipped` traces the frozen backbone with its weights as graph constants and extracts in batches of 64 "
               "(train and val in one pass)",
    "variables": "`variables` reads the weights from their variables",
    "batch 32": "`batch 32` extracts in batches of 32",
    "batch 128": "`batch 128` extracts in batches of 128",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", action="append", help="data set kind (repeatable): digits, textures, shapes, …")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variant", action="append", choices=list(VARIANTS), help="run only these (repeatable)")
    parser.add_argument("--seed-per-repeat", action="store_true",
                        help="repeat r trains with seed r (default: every repeat seed 0); the variants change float "
                             "rounding, which moves accuracy from seed to seed")
    parser.add_argument("--data-root", help="reuse data sets written here earlier (DIR/<kind>), write missing ones there")
    parser.add_argument("--no-write", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args()
    kinds = args.data or ["digits"]
    variants = {name: VARIANTS[name] for name in (args.variant or VARIANTS)}
    load = load_note()

    def run(code: str, data: Path, out: Path, repeat: int) -> dict:
        seed = str(repeat if args.seed_per_repeat else 0)
        return tune_once(plain_tune(data, out, "--seed", seed, launcher=("-c", code)), out)

    rows = alternate(variants, kinds, args.repeats, args.data_root, run)
    command = " ".join(["scripts/bench/extraction.py", *(f"--data {k}" for k in kinds), f"--repeats {args.repeats}",
                        *(f"--variant '{v}'" for v in args.variant or []), *(["--seed-per-repeat"] if args.seed_per_repeat else [])])
    seeds = f"seeds 0–{args.repeats - 1}, one per repeat" if args.seed_per_repeat else "seed 0"
    baseline = "variables" if "variables" in variants else next(iter(variants))
    described = "; ".join(DESCRIPTIONS[name] for name in variants) + "."
    section = f"""
## Feature extraction: weights as constants, and the extraction batch size

{machine_line()} · {load}

Each run a fresh default `zooft tune --backbone embedded --task classify --data DIR` process
({seeds}); for each data set and repeat every variant in turn. {described}
The head phase is feature extraction plus the head epochs on cached features.

{ratio_table(rows, list(variants), baseline)}

Command: `.venv/bin/python {command}`
"""
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
