"""``zooft demo-data`` and ``zooft demo``: generated data and the offline end-to-end demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError, DataError
from .console import err, out, print_json

DEMO_TASKS = ("classify", "detect", "text")


def demo_data(
    task: Annotated[str, typer.Argument(help="Task of the data set: classify (images), detect (COCO JSON) or text (texts.csv).")],
    out_dir: Annotated[Path, typer.Argument(help="Directory to create (must not exist or be empty).")],
    images_per_class: Annotated[int, typer.Option(min=3, help="Images (texts) per class; detect: images in all.")] = 60,
    size: Annotated[int, typer.Option(min=16, max=1024, help="Image side in pixels.")] = 96,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    splits: Annotated[bool, typer.Option(help="Write train/val/test sub-folders.")] = False,
    multi_label: Annotated[bool, typer.Option("--multi-label", help="text: one to three labels per text.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Write a generated, labelled data set (different from the embedded model's pretraining data)."""
    if task not in DEMO_TASKS:
        raise ConfigError(f"no demo data for task {task!r}", hint=f"choose one of: {', '.join(DEMO_TASKS)}")
    from ..demo.synthetic import write_classify_demo
    from ..demo.text import write_text_demo

    try:
        if task == "detect":  # a COCO data set: train/val/test.json + images/
            from ..demo.detection import write_detect_demo

            summary = write_detect_demo(out_dir, images=images_per_class, size=size, seed=seed)
            if as_json:
                print_json(summary)
            else:
                out.print(f"wrote {sum(summary['counts'].values())} images with {sum(summary['objects'].values())} objects"
                          f" of {len(summary['classes'])} classes (COCO JSON) to {summary['path']}")
            return
        if task == "text":
            summary = write_text_demo(out_dir, per_class=images_per_class, seed=seed, multi_label=multi_label)
        else:
            summary = write_classify_demo(out_dir, images_per_class=images_per_class, size=size, seed=seed, splits=splits)
    except FileExistsError as exc:
        raise DataError(str(exc), hint="choose a new directory or delete the old one") from None
    if as_json:
        print_json(summary)
    else:
        total = sum(sum(c.values()) for c in summary["counts"].values())
        what = "labels on texts" if summary.get("multi_label") else "texts" if task == "text" else "images"
        out.print(f"wrote {total} {what} of {len(summary['classes'])} classes to {summary['path']}")


def demo(
    output: Annotated[Path, typer.Option(help="Folder for the demo data and run.")] = Path("zooft-demo"),
    epochs: Annotated[int, typer.Option(min=1, help="Head-phase epochs.")] = 4,
    fine_tune_epochs: Annotated[int, typer.Option(min=0, help="Fine-tuning epochs.")] = 6,
) -> None:
    """Offline demo: generate data, fine-tune the embedded model, evaluate, export (SavedModel, TFLite)."""
    from ..demo.synthetic import write_classify_demo
    from ..exports.run import export_run
    from ..runs import refresh_report
    from ..train.tune import tune

    data_dir = output / "data"
    if not data_dir.exists():
        err.print(f"[bold]1/4[/] writing demo data to {data_dir}")
        write_classify_demo(data_dir, images_per_class=150, size=96, seed=0, splits=True)
    else:
        err.print(f"[bold]1/4[/] reusing demo data in {data_dir}")
    run_dir = output / "run"
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    err.print("[bold]2/4[/] fine-tuning the embedded model (keras:mobilenet_v2_035_shapes96)")
    run = tune(
        {
            "backbone": "embedded",
            "task": "classify",
            "data": str(data_dir),
            "epochs": epochs,
            "fine_tune_epochs": fine_tune_epochs,
            "output": str(run_dir),
        }
    )
    metrics = run.read_json("metrics.json")
    err.print(f"[bold]3/4[/] test accuracy {metrics['accuracy']:.3f} on {metrics['samples']} held-out images")
    err.print("[bold]4/4[/] exporting SavedModel and TFLite (parity-checked)")
    results = [export_run(run, "savedmodel", {}), export_run(run, "tflite", {"quantize": "float16"})]
    refresh_report(run)
    for r in results:
        out.print(f"exported {r['format']}: {r['artifact']} ({r['size_bytes'] / 1e6:.1f} MB), parity passed")
    out.print(f"run directory: {run.path}  (report: {run.path / 'report.md'})")


def register(app: typer.Typer) -> None:
    """Add the data commands to ``app``."""
    app.command("demo-data")(demo_data)
    app.command("demo")(demo)
