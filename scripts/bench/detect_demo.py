"""Detection end to end on generated COCO data: fine-tune the embedded model, measure, export.

1. ``zooft demo-data detect`` writes a COCO set of simple objects (train/val/test.json);
2. ``zooft tune --task detect`` fine-tunes the embedded backbone (held-out test split);
3. ``zooft eval --json`` mAP vs pycocotools run by this script on ``zooft predict --json`` output
   against the data set's own test.json (must be equal);
4. exports SavedModel, ONNX, TFLite float and int8 (parity-gated) and checks that ``zooft predict``
   on each artifact gives the run's detections.
Appends a section to BENCHMARKS.md (unless --no-record).

    .venv/bin/python scripts/bench/detect_demo.py [--images 800 --epochs 10 --fine-tune-epochs 20]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from results import machine_line, publish  # noqa: E402

ZOOFT = [sys.executable, "-m", "zooft"]


def run(argv: list[str]) -> str:
    proc = subprocess.run([*ZOOFT, *argv], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"zooft {' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


def pycocotools_map(annotation_file: Path, rows: list[dict], image_root: Path) -> dict[str, float]:
    """mAP of ``zooft predict --json`` rows against a COCO file, computed by pycocotools alone."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    doc = json.loads(annotation_file.read_text())
    ids = {str((image_root / img["file_name"]).resolve()): img["id"] for img in doc["images"]}
    cats = {c["name"]: c["id"] for c in doc["categories"]}
    results = [
        {"image_id": ids[str(Path(row["file"]).resolve())], "category_id": cats[d["label"]], "score": d["score"],
         "bbox": [d["box"][0], d["box"][1], d["box"][2] - d["box"][0], d["box"][3] - d["box"][1]]}
        for row in rows for d in row["detections"]
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(annotation_file))
        evaluator = COCOeval(truth, truth.loadRes(results), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {"map": float(evaluator.stats[0]), "map_50": float(evaluator.stats[1])}


def compare_detections(a: list[dict], b: list[dict], min_score: float = 0.3) -> dict[str, float]:
    """How far artifact detections ``b`` are from the run's ``a``: each run detection with score >=
    ``min_score`` is matched to the closest artifact detection of the same label (greedy, by IoU);
    reports the fraction matched, the largest box-corner difference (px) and score difference."""
    def iou(p: list[float], q: list[float]) -> float:
        w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
        h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
        union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - w * h
        return w * h / union if union > 0 else 0.0

    total = matched = 0
    box_diff = score_diff = 0.0
    exact = True
    for ra, rb in zip(a, b):
        exact &= [d["label"] for d in ra["detections"]] == [d["label"] for d in rb["detections"]]
        free = list(rb["detections"])
        for d in (d for d in ra["detections"] if d["score"] >= min_score):
            total += 1
            same = [e for e in free if e["label"] == d["label"]]
            best = max(same, key=lambda e: iou(d["box"], e["box"]), default=None)
            if best is None or iou(d["box"], best["box"]) < 0.5:
                continue
            free.remove(best)
            matched += 1
            box_diff = max(box_diff, float(np.max(np.abs(np.subtract(d["box"], best["box"])))))
            score_diff = max(score_diff, abs(d["score"] - best["score"]))
    return {"matched": matched / total if total else 1.0, "same_label_sequence": bool(exact),
            "max_box_diff_px": box_diff, "max_score_diff": score_diff}


def _g(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=800)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--fine-tune-epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--workdir", type=Path, default=None, help="keep data and run here (reused if present)")
    parser.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="zooft-detect-bench-"))
    data, run_dir = work / "data", work / "run"
    if not data.exists():
        run(["demo-data", "detect", str(data), "--images-per-class", str(args.images), "--json"])
    start = time.perf_counter()
    if not (run_dir / "model.keras").exists():
        run(["tune", "--backbone", "embedded", "--task", "detect", "--data", str(data), "--epochs", str(args.epochs),
             "--fine-tune-epochs", str(args.fine_tune_epochs), "--batch-size", str(args.batch_size), "--lr", str(args.lr),
             "--output", str(run_dir), "--json"])
    train_seconds = time.perf_counter() - start
    timing = run_dir / "timing.json"
    if timing.exists():  # a reused run: its own record of how long training took
        train_seconds = json.loads(timing.read_text())["total_seconds"]
    metrics = json.loads(run(["eval", str(run_dir), "--json"]))
    test = json.loads((data / "test.json").read_text())
    files = [str(data / img["file_name"]) for img in test["images"]]
    rows = json.loads(run(["predict", str(run_dir), *files, "--json"]))
    coco = pycocotools_map(data / "test.json", rows, data)
    print(f"zooft eval: map {metrics['map']:.4f} map_50 {metrics['map_50']:.4f}; pycocotools on predict --json:"
          f" map {coco['map']:.4f} map_50 {coco['map_50']:.4f}")

    exports = {}
    for fmt in ("savedmodel", "onnx", "tflite", "tflite:int8"):
        result = json.loads(run(["export", str(run_dir), "-f", fmt, "--json"]))
        artifact_rows = json.loads(run(["predict", result["artifact"], *files, "--json"]))
        exports[fmt] = {"size_mb": result["size_bytes"] / 1e6, "parity": result["parity"]["passed"],
                        "parity_metrics": {k: result["parity"]["metrics"].get(k) for k in
                                           ("miss_rate", "extra_rate", "matched_iou_min", "score_max_diff", "map_drop")},
                        "vs_run": compare_detections(rows, artifact_rows)}
        print(fmt, json.dumps(exports[fmt]))

    lines = [
        f"\n## Detection on generated COCO data (scripts/bench/detect_demo.py)\n\n{machine_line()}\n\n",
        f"Embedded backbone, {args.images} images of 96 px (70/15/15), {args.epochs} head + {args.fine_tune_epochs}"
        f" fine-tune epochs, batch {args.batch_size}, lr {args.lr}; training {train_seconds:.0f} s.\n\n",
        "| held-out test | mAP@[.5:.95] | mAP@.5 |\n|---|---|---|\n",
        f"| zooft eval | {metrics['map']:.4f} | {metrics['map_50']:.4f} |\n",
        f"| pycocotools on `zooft predict --json` | {coco['map']:.4f} | {coco['map_50']:.4f} |\n\n",
        "| export | MB | parity | miss | extra | min IoU | max score diff | predict vs run: matched / max box diff px / max score diff / same label lists |\n",
        "|---|---|---|---|---|---|---|---|\n",
    ]
    for fmt, e in exports.items():
        p, v = e["parity_metrics"], e["vs_run"]
        lines.append(f"| {fmt} | {e['size_mb']:.2f} | {'passed' if e['parity'] else 'FAILED'} | {_g(p['miss_rate'])} |"
                     f" {_g(p['extra_rate'])} | {_g(p['matched_iou_min'])} | {_g(p['score_max_diff'])} |"
                     f" {v['matched']:.3f} / {v['max_box_diff_px']:.3g} / {v['max_score_diff']:.3g} / {v['same_label_sequence']} |\n")
    section = "".join(lines)
    publish(section, write=not args.no_record)


if __name__ == "__main__":
    main()
