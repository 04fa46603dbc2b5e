"""``zooft tune``: fine-tune a backbone for a task on your data."""

from __future__ import annotations

from typing import Annotated

import typer

from . import state
from .console import err, out, print_json

Opt = typer.Option


def tune(
    backbone: Annotated[str | None, Opt(help="Model name/alias from 'zooft list-models', or source:locator.")] = None,
    task: Annotated[str | None, Opt(help="Task: classify, … [default: classify]")] = None,
    data: Annotated[str | None, Opt(help="Training data: a folder of class sub-folders (optional train/val/test) or a CSV.")] = None,
    val_data: Annotated[str | None, Opt(help="Separate validation data (else carved from --data).")] = None,
    test_data: Annotated[str | None, Opt(help="Separate test data for the final evaluation.")] = None,
    data_format: Annotated[str | None, Opt(help="Force a data format (image-folder, csv …).")] = None,
    data_options: Annotated[str | None, Opt(help="The data format's own key=value,... (e.g. coco: images=DIR; voc: difficult=ignore).")] = None,
    image_size: Annotated[str | None, Opt(help="Input size N or HxW [default: the model's].")] = None,
    batch_size: Annotated[int | None, Opt(help="Batch size [default: 32].")] = None,
    epochs: Annotated[str | None, Opt(help="Head-only epochs (backbone frozen), or auto: until val_loss stops improving [default: auto].", metavar="N|auto")] = None,
    fine_tune_epochs: Annotated[str | None, Opt(help="Epochs with the top layer groups unfrozen (0: none), or auto: early stopping, best weights restored [default: auto].", metavar="N|auto")] = None,
    max_epochs: Annotated[int | None, Opt(help="Epoch budget of each auto phase that runs the backbone; a head on cached features may run 10× [default: 4].")] = None,
    unfreeze: Annotated[str | None, Opt(help="Layer groups to unfreeze: N or all [default: all].")] = None,
    lr: Annotated[float | None, Opt(help="Learning rate of the head phase [default: 1e-3].")] = None,
    fine_tune_lr: Annotated[float | None, Opt(help="Learning rate of fine-tuning [default: lr × 0.1].")] = None,
    optimizer: Annotated[str | None, Opt(help="adam, adamw or sgd [default: adam].")] = None,
    schedule: Annotated[str | None, Opt(help="Learning rate per phase: auto (constant for the head alone, cosine decay once the backbone trains), cosine or constant [default: auto].")] = None,
    warmup_epochs: Annotated[str | None, Opt(help="Linear learning-rate warm-up at the start of each phase, in epochs, or auto: 1 epoch once backbone weights train, none for the head alone [default: auto].", metavar="N|auto")] = None,
    label_smoothing: Annotated[float | None, Opt(help="Label smoothing [default: 0].")] = None,
    class_weight: Annotated[str | None, Opt(help="balanced: weight classes by inverse frequency.")] = None,
    augment: Annotated[str | None, Opt(help="auto (for image classification none, measured best; auto:SPEC augments only while the backbone trains, the head trains on cached un-augmented features), default (zoom, rotation, contrast in every phase), none, or e.g. zoom=0.1,rotation=0.05,contrast=0.1 [default: auto].")] = None,
    precision: Annotated[str | None, Opt(help="auto, float32, mixed_float16, mixed_bfloat16 [default: auto].")] = None,
    strategy: Annotated[str | None, Opt(help="auto, default, mirrored, multiworker, tpu [default: auto].")] = None,
    early_stopping: Annotated[int | None, Opt(help="Patience in epochs on val_loss; restores best weights [default: off].")] = None,
    skip_bad_files: Annotated[bool | None, Opt("--skip-bad-files", help="Drop unreadable/non-image files and list them.")] = None,
    weights: Annotated[str | None, Opt(help="pretrained or none [default: pretrained].")] = None,
    cache: Annotated[str | None, Opt(help="Keep decoded, resized images between epochs: auto (in memory when the data set's decoded pixels fit 1 GiB and an eighth of RAM), memory, a file path prefix, or off [default: auto].")] = None,
    feature_cache: Annotated[bool | None, Opt("--feature-cache/--no-feature-cache", help="Train the head on backbone features computed once, where that gives the same model [default: on].")] = None,
    option: Annotated[list[str] | None, Opt("--option", "-o", help="The task's own option KEY=VALUE (repeatable; 'zooft plugins --json' lists them).", metavar="KEY=VALUE")] = None,
    task_options: Annotated[str | None, Opt(help="Task options as one key=value,... text (same as --option).")] = None,
    seed: Annotated[int | None, Opt(help="Random seed [default: 0].")] = None,
    sequence_length: Annotated[int | None, Opt(help="text-classify: --option sequence_length=N.", hidden=True)] = None,
    text_column: Annotated[str | None, Opt(help="text-classify: --option text_column=NAME.", hidden=True)] = None,
    label_column: Annotated[str | None, Opt(help="text-classify: --option label_column=NAME.", hidden=True)] = None,
    multi_label: Annotated[bool | None, Opt("--multi-label", help="text-classify: --option multi_label=true.", hidden=True)] = None,
    thresholds: Annotated[str | None, Opt(help="text-classify: --option thresholds=0.4.", hidden=True)] = None,
    output: Annotated[str | None, Opt(help="Run directory [default: runs/<model>-<task>-<time>].")] = None,
    resume: Annotated[str | None, Opt(help="Continue an interrupted run directory.", metavar="RUN")] = None,
    config: Annotated[str | None, Opt(help="YAML/JSON file of these options (flags win).", metavar="FILE")] = None,
    export: Annotated[list[str] | None, Opt(help="Export after training: FORMAT, FORMAT:QUANTIZE or FORMAT:KEY=VALUE,... (repeatable).")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print the final metrics as JSON.")] = False,
) -> None:
    """Fine-tune a pretrained backbone on your data (head first, then optional unfreezing)."""
    from ..train.tune import tune as run_tune

    from ..config import parse_value
    from ..options import parse_pairs

    options = {k: v for k, v in locals().items() if k not in ("as_json", "run_tune", "option", "parse_value", "parse_pairs")}
    if option:  # --option KEY=VALUE joins --task-options; the task's declaration checks both
        given = parse_value("task_options", task_options, "command line") if task_options else {}
        options["task_options"] = {**given, **parse_pairs(option)}
    options["registry_files"] = state.registry_files
    run = run_tune(options, console=err)
    metrics = run.read_json("metrics.json")
    if as_json:
        print_json({"run": str(run.path), "metrics": metrics})
    else:
        out.print(f"run: {run.path}")


def register(app: typer.Typer) -> None:
    """Add ``tune`` to ``app``."""
    app.command("tune")(tune)
