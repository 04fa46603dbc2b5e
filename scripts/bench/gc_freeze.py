"""What freezing the imported objects (``tfruntime.freeze_imports``) saves a plain ``zooft tune``.

Two ways to run the same default ``zooft tune --backbone embedded --task classify --data DIR``,
each a fresh process, alternating (for each data set and repeat, both in turn):
- ``frozen``: the CLI as shipped: once Keras is imported, :func:`gc.freeze` moves the objects
  the imports left out of the garbage collector's reach.
- ``not frozen``: the same CLI with ``freeze_imports`` replaced by a no-op (Python's default).

Reported per data set: median wall time, per-repeat wall ratio, the head phase (feature
extraction and the head on cached features) and fine-tune phase wall times (timing.json),
and the test accuracy (the freeze changes no computation, so accuracies must match).

    .venv/bin/python scripts/bench/gc_freeze.py --data digits --data textures --repeats 3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from alternating import alternate, plain_tune, ratio_table, tune_once  # noqa: E402
from results import load_note, machine_line, publish  # noqa: E402

#: How each variant starts the CLI (``python -c CODE tune ...``).
VARIANTS = {
    "frozen": "import sys, zooft.cli; sys.exit(zooft.cli.run(sys.argv[1:]))",
    "not frozen": ("import sys, zooft.tfruntime, zooft.cli; zooft.tfruntime.freeze_imports = lambda: None; "
                   "sys.exit(zooft.cli.run(sys.argv[1:]))"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", action="append", help="data set kind (repeatable): digits, textures, shapes, …")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-root", help="reuse data sets written here earlier (DIR/<kind>), write missing ones there")
    parser.add_argument("--no-write", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args()
    kinds = args.data or ["digits"]
    load = load_note()

    def run(code: str, data: Path, out: Path, repeat: int) -> dict:
        return tune_once(plain_tune(data, out, launcher=("-c", code)), out)

    rows = alternate(VARIANTS, kinds, args.repeats, args.data_root, run)
    command = " ".join(["scripts/bench/gc_freeze.py", *(f"--data {k}" for k in kinds), f"--repeats {args.repeats}"])
    section = f"""
## Garbage collection after the imports: a plain `zooft tune` with and without `gc.freeze`

{machine_line()} · {load}

Each run a fresh default `zooft tune --backbone embedded --task classify --data DIR` process
(seed 0); for each data set and repeat both variants in turn. `not frozen` replaces
`zooft.tfruntime.freeze_imports` with a no-op.

{ratio_table(rows, list(VARIANTS), "not frozen")}

Command: `.venv/bin/python {command}`
"""
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
