"""Fine-tune accuracy of the embedded backbone on the held-out sets, through ``zooft tune``.

For each held-out set of ``heldout.py`` (written once as image folders) and each seed, runs

    zooft tune --backbone BACKBONE --task classify --data DIR --epochs E --fine-tune-epochs F
               --augment none --seed S [--weights none] [--registry FILE] --json

and prints one JSON line per run (set, label, seed, test accuracy, wall seconds). ``--weights
none`` gives a random initialisation of the same architecture (same registry entry, same
schedule); ``--registry FILE`` evaluates another weight file under another entry name.

    python scripts/bench/embedded_transfer.py --label new
    python scripts/bench/embedded_transfer.py --label random --weights none
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import heldout  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--label", required=True, help="name of this variant in the output")
    p.add_argument("--backbone", default="embedded")
    p.add_argument("--weights", default="pretrained", choices=["pretrained", "none"])
    p.add_argument("--registry", default=None, help="extra registry YAML (for another weight file)")
    p.add_argument("--sets", default=",".join(heldout.SETS))
    p.add_argument("--seeds", default="0")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--fine-tune-epochs", type=int, default=3)
    p.add_argument("--work", type=Path, default=Path("/tmp/zooft-heldout"))
    p.add_argument("--out", type=Path, default=None, help="append the JSON lines to this file")
    args = p.parse_args()
    zooft = Path(sys.executable).with_name("zooft")
    for name in args.sets.split(","):
        data = args.work / name
        if not (data / "test").is_dir():
            heldout.write(name, data)
        for seed in (int(s) for s in args.seeds.split(",")):
            run_dir = args.work / "runs" / f"{name}-{args.label}-{seed}"
            cmd = [str(zooft)] + (["--registry", args.registry] if args.registry else []) + [
                "tune", "--backbone", args.backbone, "--task", "classify", "--data", str(data),
                "--epochs", str(args.epochs), "--fine-tune-epochs", str(args.fine_tune_epochs),
                "--augment", "none", "--seed", str(seed), "--weights", args.weights,
                "--output", str(run_dir), "--json"]
            t = time.time()
            out = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.time() - t
            if out.returncode != 0:
                raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
            metrics = json.loads(out.stdout)["metrics"]
            row = {"set": name, "label": args.label, "seed": seed, "accuracy": metrics.get("accuracy"),
                   "wall_s": round(wall, 1), "epochs": args.epochs,
                   "fine_tune_epochs": args.fine_tune_epochs, "command": " ".join(cmd[1:])}
            print(json.dumps(row), flush=True)
            if args.out:
                with args.out.open("a") as f:
                    f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
