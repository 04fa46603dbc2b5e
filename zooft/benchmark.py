"""``zooft bench``: time every exported artifact of a run next to the Keras model."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from .errors import RunError
from .runs import Run, refresh_report


def _keras_timing(run: Run, batch: int, runs: int, warmup: int = 5) -> dict[str, Any]:
    """Batch latency of the trained Keras model called as a compiled tf.function (how a Python
    server would serve it), on random images of the run's input size."""
    import tensorflow as tf

    model = run.load_model()
    if str(model.inputs[0].dtype) == "string":  # text models: the run's own texts, cycled
        texts = [ex.source for examples in run.data().splits.values() for ex in examples][:batch] or ["text"]
        x = tf.constant([texts[i % len(texts)] for i in range(batch)])
    else:
        size = run.input_size or (224, 224)
        x = tf.constant(np.random.default_rng(0).integers(0, 256, (batch, *size, 3)).astype(np.float32))
    serve = tf.function(lambda images: model(images, training=False), autograph=False)
    for _ in range(warmup):
        serve(x)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        out = serve(x)
        np.asarray(out if not isinstance(out, dict) else next(iter(out.values())))
        times.append(time.perf_counter() - start)
    latency = np.asarray(times) * 1000.0
    return {
        "name": "keras",
        "format": "keras",
        "runtime": f"tensorflow {tf.__version__}",
        "size_bytes": (run.path / "model.keras").stat().st_size,
        "latency_ms_p50": float(np.median(latency)),
        "latency_ms_p90": float(np.percentile(latency, 90)),
        "throughput": float(batch / np.mean(times)),
    }


def bench_run(run_dir: str | os.PathLike[str], *, runs: int = 50, batch: int = 1) -> dict[str, Any]:
    """Benchmark the Keras model and each passing export; write ``bench.json`` into the run.

    An export zooft cannot open or run (a format without a ``load`` hook whose plugin is gone,
    an artifact that needs a runtime not installed …) is listed under ``skipped`` with the
    reason instead of failing the whole benchmark."""
    from .errors import ZooftError
    from .exports.run import open_export

    run = Run.open(run_dir)
    exports = sorted(
        p for p in run.exports_dir().glob("*") if p.is_dir() and not p.name.startswith(".") and not p.name.endswith(".failed")
    ) if run.exports_dir().is_dir() else []
    if not exports:
        raise RunError(f"run {run.path} has no exports to benchmark", hint=f"first run 'zooft export {run_dir} --format tflite'")
    rows = [_keras_timing(run, batch, runs)]
    skipped: list[dict[str, str]] = []
    for directory in exports:
        try:
            artifact = open_export(directory)
            timing = artifact.benchmark(batch=batch, runs=runs)
        except ZooftError as exc:
            skipped.append({"name": directory.name, "reason": str(exc)})
            continue
        except Exception as exc:  # a third-party runtime failing must not hide the other rows
            skipped.append({"name": directory.name, "reason": f"{type(exc).__name__}: {exc}".splitlines()[0]})
            continue
        rows.append({
            "name": directory.name,
            "format": timing["format"],
            "runtime": timing["runtime"],
            "size_bytes": timing["size_bytes"],
            "latency_ms_p50": timing["latency_ms"]["p50"],
            "latency_ms_p90": timing["latency_ms"]["p90"],
            "throughput": timing["throughput_per_s"],
        })
    keras_p50 = rows[0]["latency_ms_p50"]
    for row in rows:
        row["speedup_vs_keras"] = keras_p50 / row["latency_ms_p50"] if row["latency_ms_p50"] else float("nan")
    result = {"batch": batch, "runs": runs, "rows": rows, "skipped": skipped, "path": str(run.path / "bench.json")}
    run.write_json("bench.json", result)
    refresh_report(run)
    return result
