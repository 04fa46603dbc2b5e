"""``zooft eval``, ``predict``, ``export`` and ``bench``: commands that take a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..errors import ConfigError, DataError
from .console import err, out, print_json

Opt = typer.Option
Arg = typer.Argument


def _print_metrics(metrics: dict[str, Any], task: Any = None) -> None:
    from .render import generic_metrics_lines, metrics_text

    own = metrics_text(task, metrics)
    if own is not None:
        out.print(own, markup=False)
        return
    if "accuracy" not in metrics and "map" not in metrics:  # a task zooft has no table for
        for line in generic_metrics_lines(metrics):
            out.print(line, markup=False)
        return
    if "accuracy" in metrics:
        out.print(f"accuracy {metrics['accuracy']:.4f} on {metrics.get('samples', '?')} examples")
    if isinstance(metrics.get("top_k"), dict):
        out.print(f"top-{metrics['top_k']['k']} accuracy {metrics['top_k']['accuracy']:.4f}")
    if "map" in metrics:  # detection (COCO metrics)
        out.print(f"mAP@[.5:.95] {metrics['map']:.4f}  mAP@.5 {metrics['map_50']:.4f} on {metrics.get('images', '?')} images")
        table = Table(box=None, header_style="bold")
        for column in ("class", "AP", "AP@.5", "objects"):
            table.add_column(column)
        for name, row in (metrics.get("per_class") or {}).items():
            ap, ap50 = row.get("ap"), row.get("ap_50")
            table.add_row(name, "—" if ap is None else f"{ap:.3f}", "—" if ap50 is None else f"{ap50:.3f}", str(row.get("objects", "")))
        out.print(table)
        return
    per_class = metrics.get("per_class") or {}
    if per_class:
        table = Table(box=None, header_style="bold")
        for column in ("class", "precision", "recall", "f1", "support"):
            table.add_column(column)
        for name, row in per_class.items():
            table.add_row(name, f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", str(row["support"]))
        out.print(table)


def eval_cmd(
    run_dir: Annotated[Path, Arg(help="Run directory written by 'zooft tune'.", metavar="RUN")],
    data: Annotated[str | None, Opt(help="Data to evaluate on [default: the run's held-out split].")] = None,
    data_format: Annotated[str | None, Opt(help="Force a data format.")] = None,
    data_options: Annotated[str | None, Opt(help="The data format's own key=value,... (e.g. coco: images=DIR).")] = None,
    batch_size: Annotated[int, Opt(min=1, help="Batch size.")] = 32,
    as_json: Annotated[bool, Opt("--json", help="Print JSON.")] = False,
) -> None:
    """Evaluate a trained run (accuracy, top-k, per-class metrics, confusion matrix)."""
    from ..runs import Run
    from ..task import task_dataset

    run = Run.open(run_dir)
    task = run.load_task()
    classes = run.classes
    if data:
        from ..config import parse_value
        from ..data.formats import load_data
        from ..train.tune import format_options

        # the run's host options (text columns …) but this data's own format options
        given = parse_value("data_options", data_options, "command line")
        loaded = load_data(data, format=data_format, task=run.task, val_split=0.0, class_names=classes,
                           options=format_options({**run.config, "data_options": given}))
        examples = [ex for split in loaded.splits.values() for ex in split]
    else:
        index = run.data()
        split = "test" if index.splits.get("test") else "val"
        examples = index.splits.get(split) or []
    if not examples:
        raise DataError("no labelled examples to evaluate on", hint="pass --data PATH")
    dataset = task_dataset(
        task, examples, num_classes=len(classes), config=run.config, image_size=run.input_size,
        batch_size=batch_size, training=False,
    )
    metrics = task.evaluate(run.load_model(), dataset, classes, run.config)
    if as_json:
        print_json(metrics)
    else:
        _print_metrics(metrics, task)


def predict(
    target: Annotated[Path, Arg(help="A run directory, or an exported artifact (.tflite, .onnx, SavedModel dir).", metavar="RUN|ARTIFACT")],
    files: Annotated[list[str] | None, Arg(help="Image files or folders of images, or texts for a text model.", metavar="FILE|DIR|TEXT...")] = None,
    text_file: Annotated[Path | None, Opt("--file", help="Text models: a UTF-8 file with one text per line.")] = None,
    top_k: Annotated[int, Opt(min=1, help="How many classes to show per input.")] = 1,
    draw: Annotated[Path | None, Opt(help="Detection: write the images with their boxes drawn into this folder.")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print JSON.")] = False,
) -> None:
    """Predict labels (detection: boxes) for image files, or texts, with a run or an exported artifact."""
    from ..data.images import load_images_for_predict
    from ..plugins import get_host

    run = artifact = None
    if (target / "config.json").is_file():
        from ..runs import Run

        run = Run.open(target)
        task_name = run.task
    else:
        from ..exports.run import open_export

        artifact = open_export(target)
        task_name = artifact.task
    if "text" in get_host().task(task_name).modalities:
        if draw is not None:
            raise DataError("--draw applies to detection runs; this is a text model", hint="leave out --draw")
        rows = _predict_texts(run, artifact, list(files or []), text_file, top_k)
    else:
        if text_file is not None or not files:
            raise DataError("pass image files as arguments" if not files else "--file is for text models", hint="zooft predict RUN a.jpg b.png")
        from ..data.files import check_data_file
        from ..data.images import expand_image_paths

        files = expand_image_paths(files)  # a folder stands for the images in it
        for file in files:
            check_data_file(file)  # regular files only: a FIFO or device is refused unread
        if run is not None:
            task, classes, size, settings = run.load_task(), run.classes, run.input_size, run.config
            model = run.load_model()
            runner = lambda x: model.predict(x, verbose=0)  # noqa: E731
        else:
            from ..task import export_inputs

            classes, size, settings = artifact.classes, artifact.input_size, artifact.metadata
            task = get_host().task(artifact.task).factory()
            runner = lambda x: artifact.predict(export_inputs(task, x, artifact.metadata))  # noqa: E731
        if hasattr(task, "predict_files"):  # tasks that read the files themselves (detection: pixel boxes)
            rows = task.predict_files(runner, list(files), classes=classes, input_size=size, settings=settings, draw_dir=draw)
            if as_json:
                print_json(rows)
                return
            for row in rows:
                found = ", ".join(f"{d['label']} {d['score']:.2f} {[round(v) for v in d['box']]}" for d in row["detections"][:5])
                out.print(f"{row['file']}: {len(row['detections'])} detection(s)" + (f": {found}" if found else ""))
            return
        if draw is not None:
            raise DataError(f"--draw applies to detection runs; this is a {getattr(task, 'name', '?')} model", hint="leave out --draw")
        predictions = task.postprocess(runner(load_images_for_predict(list(files), size)), classes, top_k=top_k)
        rows = [{"file": str(f), **p} for f, p in zip(files, predictions)]
    if as_json:
        print_json(rows)
        return
    from .render import prediction_line

    shown_task = get_host().task(task_name).factory() if run is None else run.load_task()
    for row in rows:
        out.print(prediction_line(shown_task, row), markup=False)


def _predict_texts(run: Any, artifact: Any, texts: list[str], text_file: Path | None, top_k: int) -> list[dict[str, Any]]:
    """Text models: texts from the arguments and/or ``--file`` (one per line, blank lines skipped);
    a run's model takes strings, an artifact gets them through its task's ``export_inputs``
    (tokenized on the host for TFLite/ONNX)."""
    import numpy as np

    if text_file is not None:
        from ..data.files import read_data_file

        data = read_data_file(text_file)  # regular files only, size-capped (zooft/data/files.py)
        try:
            texts += [line.strip() for line in data.decode("utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError as exc:
            raise DataError(f"cannot read texts from {text_file}: {exc}", hint="pass a UTF-8 text file, one text per line") from None
    if not texts:
        raise DataError("no texts to predict", hint='pass texts as arguments (zooft predict RUN "some text") or --file FILE')
    raw = np.asarray(texts, dtype=object)
    if run is not None:
        task, classes, model = run.load_task(), run.classes, run.load_model()
        outputs = model.predict(raw, verbose=0)
        hook = getattr(task, "prediction_settings", None)  # optional: e.g. multi-label thresholds
        settings = hook(model=model) if hook else {}
    else:
        from ..plugins import get_host
        from ..task import export_inputs

        task, classes = get_host().task(artifact.task).factory(), artifact.classes
        outputs = artifact.predict(export_inputs(task, raw, artifact.metadata))
        hook = getattr(task, "prediction_settings", None)
        settings = hook(metadata=artifact.metadata) if hook else {}
    predictions = task.postprocess(outputs, classes, top_k=top_k, **settings)
    return [{"text": t, **p} for t, p in zip(texts, predictions)]


def export(
    run_dir: Annotated[Path, Arg(help="Run directory written by 'zooft tune'.", metavar="RUN")],
    formats: Annotated[list[str], Opt("--format", "-f", help="savedmodel, tflite, onnx … (repeatable; FORMAT:QUANTIZE or FORMAT:KEY=VALUE,... allowed).")],
    option: Annotated[list[str] | None, Opt("--option", "-o", help="The format's own option KEY=VALUE (repeatable; 'zooft plugins --json' lists them).", metavar="KEY=VALUE")] = None,
    quantize: Annotated[str | None, Opt(help="Same as --option quantize=MODE (tflite: none, float16, dynamic, int8, int8-full).")] = None,
    opset: Annotated[int | None, Opt(help="Same as --option opset=N (onnx).")] = None,
    io_type: Annotated[str | None, Opt(help="Same as --option io_type=TYPE (tflite int8-full input/output: uint8 (default), int8, float32).")] = None,
    tolerance: Annotated[float | None, Opt(help="Override the parity threshold (recorded in the report).")] = None,
    verify: Annotated[bool, Opt("--verify/--no-verify", help="Run the parity gate (recorded either way).")] = True,
    calibration_samples: Annotated[int | None, Opt(min=1, help="Training images for int8 calibration [default: 100].")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print JSON.")] = False,
) -> None:
    """Export a finished run, reloaded in the target runtime and checked against the Keras model."""
    from ..exports.run import export_run
    from ..runs import Run, refresh_report

    from ..options import parse_format_item, parse_pairs

    given = parse_pairs(option or [])  # flags are checked before the run is read
    run = Run.open(run_dir)
    if quantize is not None:
        given.setdefault("quantize", quantize)
    if opset is not None:
        given.setdefault("opset", str(opset))
    if io_type is not None:
        given.setdefault("io_type", io_type)
    from ..exports.run import HOST_OPTIONS
    from ..options import unknown_option
    from ..plugins import get_host

    items = [parse_format_item(item) for item in formats]
    infos = {fmt: get_host().exporter(fmt) for fmt, _ in items}
    for key in given:  # --option goes to every format that declares it; some format must
        if key not in HOST_OPTIONS and not any(key in info.options for info in infos.values()):
            raise unknown_option("export", "/".join(infos), key, {k for info in infos.values() for k in info.options})
    results = []
    for fmt, own in items:
        declared = {k: v for k, v in given.items() if k in infos[fmt].options or k in HOST_OPTIONS}
        options: dict[str, Any] = {"tolerance": tolerance, "verify": verify, **declared, **own}
        if calibration_samples is not None:
            options["calibration_samples"] = calibration_samples
        result = export_run(run, fmt, options)
        results.append(result)
        if not as_json:
            parity = result["parity"]
            status = "passed" if parity["passed"] and parity.get("verified", True) else "NOT VERIFIED"
            out.print(f"{fmt}: {result['artifact']} ({result['size_bytes'] / 1e6:.2f} MB), parity {status}")
    refresh_report(run)
    if as_json:
        print_json(results if len(results) > 1 else results[0])


def bench(
    run_dir: Annotated[Path, Arg(help="Run directory with exports.", metavar="RUN")],
    runs: Annotated[int, Opt(min=5, help="Timed runs per artifact.")] = 50,
    as_json: Annotated[bool, Opt("--json", help="Print JSON.")] = False,
) -> None:
    """Time every exported artifact of a run (batch-1 latency, throughput, size) next to Keras."""
    from ..benchmark import bench_run

    results = bench_run(run_dir, runs=runs)
    if as_json:
        print_json(results)
        return
    for skipped in results.get("skipped", []):
        err.print(f"skipped {skipped['name']}: {skipped['reason']}", markup=False)
    table = Table(box=None, header_style="bold")
    for column in ("artifact", "size MB", "p50 ms", "p90 ms", "img/s", "vs keras"):
        table.add_column(column)
    for row in results["rows"]:
        table.add_row(
            row["name"], f"{row['size_bytes'] / 1e6:.2f}", f"{row['latency_ms_p50']:.2f}", f"{row['latency_ms_p90']:.2f}",
            f"{row['throughput']:.0f}", f"{row['speedup_vs_keras']:.1f}×",
        )
    out.print(table)
    err.print(f"written to {results['path']}")


def register(app: typer.Typer) -> None:
    """Add the run commands to ``app``."""
    app.command("eval")(eval_cmd)
    app.command("predict")(predict)
    app.command("export")(export)
    app.command("bench")(bench)
