"""The same network fine-tuned as a hub model and as a Keras model: do they reach the same accuracy?

The embedded backbone (MobileNetV2 α=0.35, zooft's own pretraining) is written as a TF2
reusable SavedModel (the TF Hub format, by ``zooft_hub.savedmodel``), packed as .tar.gz and
served from 127.0.0.1; then ``zooft tune`` runs twice with identical settings on scikit-learn's
digits: ``--backbone embedded`` (the keras source) and ``--backbone hub:http://127.0.0.1:PORT/…``
(fetched, cached and resolved through tensorflow_hub, trained through zooft's HubLayer). Both
runs fine-tune every layer group; each is a fresh process. Appends a section to BENCHMARKS.md.

    .venv/bin/python scripts/bench/hub_vs_keras.py [--image-size 64 --epochs 3 --fine-tune-epochs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "tests" / "integration"))

from datasets import write_digits  # noqa: E402
from results import machine_line, publish  # noqa: E402


def _tune(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "zooft", "tune", *argv], capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"zooft tune failed ({proc.returncode}): {' '.join(argv)}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def _feature_difference(backbone: object, saved: Path, size: tuple[int, int]) -> float:
    """Max |keras pooled - hub pooled| on random 0-255 images: the two are the same network."""
    import numpy as np

    import zooft
    from zooft_hub.backbone import build_backbone

    spec = zooft.ModelSpec(name="hub:bench", source="hub", locator=str(saved), weights=zooft.WeightsSpec("builtin", "hub"),
                           input_size=size, preprocessing={"mode": "unit"})
    hub = build_backbone(spec)
    x = np.random.default_rng(0).uniform(0, 255, (64, *size, 3)).astype("float32")
    a = backbone.model.predict(x, verbose=0)["pooled"]  # type: ignore[attr-defined]
    b = hub.model.predict(x, verbose=0)["pooled"]
    return float(np.abs(a - b).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--fine-tune-epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--fine-tune-lr", type=float, default=3e-4)
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds; each runs both backbones")
    parser.add_argument("--no-write", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args()

    import hub_fixtures

    from zooft.plugins import get_host
    from zooft.registry import resolve_model
    from zooft_hub.savedmodel import pack, save_reusable_savedmodel

    work = Path(tempfile.mkdtemp(prefix="zooft-hub-bench-"))
    counts = write_digits(work / "digits", size=32)
    size = (args.image_size, args.image_size)
    spec = resolve_model("embedded")
    backbone = get_host().backbone_source(spec.source).factory(spec, input_size=size)
    # the hub twin takes [0, 1] images (the TF Hub convention) and feeds the Keras graph 0-255
    save_reusable_savedmodel(backbone.model, work / "savedmodel", input_scale=255.0, output="pooled")
    (work / "www").mkdir()
    pack(work / "savedmodel", work / "www" / "embedded.tar.gz")
    feature_diff = _feature_difference(backbone, work / "savedmodel", size)

    common = ["--data", str(work / "digits"), "--image-size", str(args.image_size), "--augment", "none",
              "--epochs", str(args.epochs), "--fine-tune-epochs", str(args.fine_tune_epochs), "--unfreeze", "all",
              "--batch-size", str(args.batch_size), "--lr", str(args.lr), "--fine-tune-lr", str(args.fine_tune_lr)]
    env = {**os.environ, "ZOOFT_HOME": str(work / "home")}
    seeds = [int(s) for s in args.seeds.split(",")]
    losses: dict[int, list[list[float]]] = {}
    results: dict[str, list[tuple[float, float]]] = {"keras (embedded)": [], "hub (same network, over HTTP)": []}
    with hub_fixtures.serve(work / "www") as base:
        for seed in seeds:
            for name, backbone_name in zip(results, ("embedded", f"hub:{base}/embedded.tar.gz")):
                out = work / f"{name.split()[0]}-{seed}"
                seconds = _tune(["--backbone", backbone_name, "--output", str(out), "--seed", str(seed), *common], env)
                metrics = json.loads((out / "metrics.json").read_text())
                results[name].append((metrics["accuracy"], seconds))
                history = json.loads((out / "history.json").read_text())
                losses.setdefault(seed, []).append([e["loss"] for p in history["phases"] for e in p["epochs"]])
                print(f"seed {seed} {name}: accuracy {metrics['accuracy']:.4f} in {seconds:.0f}s", file=sys.stderr)

    import keras
    import tensorflow as tf

    def row(name: str, runs: list[tuple[float, float]]) -> str:
        accs = [a for a, _ in runs]
        per_seed = " / ".join(f"{a:.4f}" for a in accs)
        return f"| {name} | {per_seed} | {sum(accs) / len(accs):.4f} | {sum(t for _, t in runs) / len(runs):.1f} |"

    table = "\n".join(row(name, runs) for name, runs in results.items())
    keras_acc, hub_acc = (sum(a for a, _ in runs) / len(runs) for runs in results.values())
    loss_diff = max(abs(a - b) for pair in losses.values() for a, b in zip(*pair))
    section = f"""
## Hub backbone vs the same network as a Keras backbone

{machine_line()} · TensorFlow {tf.__version__} · Keras {keras.__version__}

The embedded MobileNetV2 α=0.35 once as `--backbone embedded` (keras source) and once written as a
TF Hub reusable SavedModel, served from 127.0.0.1 and used as `--backbone hub:http://…` (zooft's
HubLayer). Data: scikit-learn digits ({counts['train']} train / {counts['val']} val / {counts['test']} test)
at {args.image_size} px; {args.epochs} head epochs + {args.fine_tune_epochs} fine-tuning epochs
(all groups), batch {args.batch_size}, lr {args.lr:g} then {args.fine_tune_lr:g}, no augmentation.

| backbone | test accuracy per seed ({args.seeds}) | mean | mean wall time (s) |
|---|---|---|---|
{table}

Mean accuracy hub − keras = **{hub_acc - keras_acc:+.4f}**; largest difference of a per-epoch training
loss between the two = {loss_diff:.1e}. The two backbones compute the same
features (max |difference| of the pooled vectors on 64 random images: {feature_diff:.2e}), and zooft
re-seeds before building the head, so both runs start from the same head and see the same
batches: the per-epoch losses should agree to float precision, not only the final accuracy.
`tests/integration/test_hub_backbone.py::test_hub_model_trains_exactly_like_its_keras_twin`
checks the same equivalence on a tiny CNN in the test suite.

Command: `.venv/bin/python scripts/bench/hub_vs_keras.py --image-size {args.image_size} --epochs {args.epochs} \\
--fine-tune-epochs {args.fine_tune_epochs} --seeds {args.seeds}`
"""
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
