"""``tune()``: resolve the config, build data and model, run the phases, evaluate, save, export.

Each step is a small function; ``tune`` only composes them. A run directory is written
from the start (config, labels, data index) so that an interrupted run can be resumed.
"""

from __future__ import annotations

import re
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import ResolvedConfig, parse_value, read_config_file, resolve
from ..errors import ConfigError, RunError
from ..options import parse_format_item
from ..runlock import clean_run_debris, run_lock
from ..runs import Run, data_to_json, read_json
from ..registry import resolve_model
from ..specs import ModelSpec
from .multiworker import uses_multiworker, worker_output
from .schedule import Phase, phases_of  # noqa: F401  (Phase: re-exported for callers of this module)

_SKIPPED_SHOWN = 5  # skipped files named on the console
RESUME_OVERRIDABLE = {"epochs", "fine_tune_epochs", "max_epochs", "early_stopping", "export", "feature_cache"}


def resolve_tune_config(options: dict[str, Any]) -> tuple[ResolvedConfig, ModelSpec, Path | None]:
    """Turn ``tune`` options (CLI flags or API kwargs) into the resolved config, the model spec,
    and the run directory to resume (or None)."""
    options = dict(options)
    resume = options.pop("resume", None)
    config_file = options.pop("config", None)
    registry_files = list(options.pop("registry_files", None) or [])
    if resume:
        run_dir = Path(resume)
        if not (run_dir / "config.json").is_file():
            raise RunError(f"cannot resume {resume}: no config.json there", hint="pass the directory of an earlier 'zooft tune' run")
        saved = read_json(run_dir / "config.json")
        given = {k for k, v in options.items() if v is not None and v != []} - {"output"}
        extra = given - RESUME_OVERRIDABLE
        if extra:
            raise ConfigError(
                f"--resume continues a run with its saved config; cannot change {', '.join(sorted(extra))}",
                hint=f"only {', '.join(sorted(RESUME_OVERRIDABLE))} may be given with --resume",
            )
        values = dict(saved["values"])
        sources = dict(saved["sources"])
        for key in given:
            values[key] = parse_value(key, options[key], "command line (resume)")
            sources[key] = "command line (resume)"
        config = ResolvedConfig(values, sources)
        # the spec as it was when the run started: a registry edited since must not change it
        spec = ModelSpec.from_dict(saved["backbone_spec"]) if "backbone_spec" in saved else resolve_model(
            values["backbone"], registry_files
        )
        return config, spec, run_dir
    file_values = read_config_file(config_file) if config_file else {}
    backbone = options.get("backbone") or file_values.get("backbone")
    data = options.get("data") or file_values.get("data")
    if not backbone:
        raise ConfigError("no backbone given", hint="pass --backbone MODEL (see 'zooft list-models'), e.g. --backbone embedded")
    if not data:
        raise ConfigError("no training data given", hint="pass --data PATH (a folder of class sub-folders or a CSV)")
    spec = resolve_model(str(backbone), registry_files)
    config = resolve(flags=options, file_values=file_values, file_name=str(config_file), entry_defaults=spec.defaults)
    if config.values["image_size"] is None and spec.input_size:
        config.values["image_size"] = list(spec.input_size)
        config.sources["image_size"] = "registry entry"
    if config.values["image_size"] is None and spec.modality == "image":
        raise ConfigError(f"model {spec.name} has no native input size", hint="pass --image-size N or HxW")
    check_task(spec, config.values["task"])
    config.values["task_options"] = resolve_task_options(config.values["task"], config.values["task_options"])
    return config, spec, None


def check_task(spec: ModelSpec, task: str) -> None:
    """Fail early when the task does not exist or cannot use this model's modality.

    The registry entry's ``tasks:`` list is a hint for listing, not a gate: whether the backbone
    provides the outputs the task requires is checked once it is built
    (:func:`zooft.task.check_backbone`)."""
    from ..plugins import get_host

    info = get_host().task(task)
    if spec.modality not in info.modalities:
        raise ConfigError(
            f"task {task!r} takes {'/'.join(info.modalities)} models, but {spec.name} is a {spec.modality} model",
            hint=f"choose a model with 'zooft list-models --task {task}'",
        )


def resolve_task_options(task: str, given: dict[str, Any]) -> dict[str, Any]:
    """The task's options: checked against its declaration (``TaskInfo.options``) with the
    defaults filled in; a task that declares none gets them as given (it checks them itself,
    as ``detect`` does), option text read as YAML scalars."""
    from ..config import scalar
    from ..options import validate_options
    from ..plugins import get_host

    info = get_host().task(task)
    if info.options is None:
        return {k: scalar(v) if isinstance(v, str) else v for k, v in (given or {}).items()}
    return validate_options("task", task, info.options, given or {}, with_defaults=True)


def prepare_run_dir(config: ResolvedConfig, spec: ModelSpec) -> Path:
    """Create a fresh run directory; refuse to overwrite a non-empty one."""
    output = config.values.get("output")
    if not output:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        # ad-hoc names may be URLs or paths (hub:https://…/m.tar.gz): one safe folder name
        stem = re.sub(r"[^A-Za-z0-9_.+-]+", "_", spec.short_name).strip("_.")[-60:] or "model"
        output = str(Path("runs") / f"{stem}-{config.values['task']}-{stamp}")
    run_dir = Path(output)
    if run_dir.exists() and any(p.name != ".lock" for p in run_dir.iterdir()):
        raise RunError(
            f"run directory {run_dir} already exists and is not empty",
            hint=f"continue it with 'zooft tune --resume {run_dir}', or choose another --output",
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    config.values["output"] = str(run_dir)
    return run_dir


def load_training_data(config: dict[str, Any]) -> Any:
    """The data index: train (+ carved val) from ``data``, optional separate val/test sets."""
    from ..data.formats import load_data

    common = {"format": config["data_format"], "task": config["task"], "skip_bad_files": config["skip_bad_files"],
              "options": format_options(config)}
    # a separate validation set replaces the carved one: then every --data example trains
    val_split = 0.0 if config.get("val_data") else config["val_split"]
    data = load_data(config["data"], val_split=val_split, seed=config["seed"], **common)
    for key, split in (("val_data", "val"), ("test_data", "test")):
        if config.get(key):
            extra = load_data(config[key], val_split=0.0, seed=config["seed"], class_names=data.classes, **common)
            data.splits[split] = [ex for examples in extra.splits.values() for ex in examples]
            data.skipped.extend(extra.skipped)
    return data


def format_options(config: dict[str, Any]) -> dict[str, Any]:
    """What a data format's ``load`` receives as keyword options: the host's own
    (:data:`zooft.data.formats.HOST_OPTIONS`: text columns and ``multi_label``, which are the
    text task's options, and ``skip_bad_files``) and ``data_options``, the format's own
    (``images=DIR`` …; checked against its declaration by load_data)."""
    from ..data.formats import HOST_OPTIONS

    task_options = config.get("task_options") or {}
    options = {k: v for k, v in task_options.items() if k in HOST_OPTIONS and v is not None}
    options["skip_bad_files"] = bool(config.get("skip_bad_files"))
    return {**options, **dict(config.get("data_options") or {})}


def tune(options: dict[str, Any], *, console: Any = None) -> Run:
    """Fine-tune a model as described by ``options`` (the keys of ``zooft tune``) and return its Run.

    Progress and notes go to ``console`` (anything with rich's ``print``; default: stderr)."""
    from .progress import diagnostics

    err = console if console is not None else diagnostics()
    started = time.perf_counter()
    watch = Stopwatch()
    resolved, spec, resume_dir = resolve_tune_config(options)
    config = resolved.values
    check_exports(config["export"])
    prefetch_weights(spec, config)
    watch.lap("config, registry and plugins")
    if uses_multiworker(config["strategy"]):
        # only the chief writes the run directory; other workers write a private temp copy
        resume_dir = worker_output(config, resume_dir)
    if resume_dir is None:
        data = load_training_data(config)  # before the run directory: a bad data set leaves nothing behind
        report_skipped(data, err)
        from rich.markup import escape

        for warning in data.warnings:  # also in data.json and the report
            err.print(f"[yellow]warning:[/] {escape(warning)}")
        run_dir = prepare_run_dir(resolved, spec)
    else:
        run_dir = resume_dir
    with run_lock(run_dir):  # one writer per run: a second 'tune --resume RUN' fails in one line
        _tune_locked(resolved, spec, run_dir, resume_dir, data if resume_dir is None else None, started, err, watch)
    return Run.open(run_dir)


def report_skipped(data: Any, console: Any) -> None:
    """Files ``--skip-bad-files`` left out, on the console (stderr): a count and the first few;
    the whole list goes to the run's report.md and data.json."""
    if not data.skipped:
        return
    shown = _SKIPPED_SHOWN
    noun = "file" if len(data.skipped) == 1 else "files"
    console.print(f"skipped {len(data.skipped)} bad {noun} (--skip-bad-files); the full list is in the run's report.md",
                  markup=False, highlight=False)
    for path, reason in data.skipped[:shown]:
        console.print(f"  {path}: {reason}", markup=False, highlight=False)
    if len(data.skipped) > shown:
        console.print(f"  … and {len(data.skipped) - shown} more", markup=False, highlight=False)


def _tune_locked(resolved: ResolvedConfig, spec: ModelSpec, run_dir: Path, resume_dir: Path | None,
                 data: Any, started: float, err: Any, watch: Stopwatch) -> None:
    """The part of :func:`tune` that writes into the run directory (with its lock held);
    notes go to ``err`` (the caller's console)."""
    config = resolved.values
    if resume_dir is None:
        Run(run_dir).write_json("data.json", data_to_json(data))
        Run(run_dir).write_json("labels.json", {"classes": data.classes})
    else:
        removed = clean_run_debris(run_dir)  # e.g. exports/.tmp-* of an export killed midway
        if removed:
            err.print(f"removed {len(removed)} temporary file(s) an interrupted process left: {', '.join(removed[:3])}",
                      markup=False, highlight=False)
        data = Run(run_dir).data()
        err.print(f"resuming {run_dir}")
    watch.lap("data check and split")
    run = Run(run_dir)
    run.write_json(
        "config.json",
        {**resolved.to_json(), "backbone_spec": spec.to_dict(), "zooft_version": __version__,
         "created": datetime.now(timezone.utc).isoformat(timespec="seconds")},
    )
    import keras

    from .session import TrainingSession

    watch.lap("import TensorFlow and Keras")
    previous_policy = keras.mixed_precision.global_policy().name
    try:
        session = TrainingSession(run, config, spec, data, console=err)
        watch.lap("model build")
        session.train(phases_of(config))
        watch.lap("training (feature extraction and every phase)")
        session.finish(total_seconds=time.perf_counter() - started, watch=watch)
    except BaseException:
        # A run that failed before committing its first epoch holds nothing worth resuming:
        # remove the directory this call created, so the same command can simply be re-run.
        if resume_dir is None and not (run_dir / "state.json").exists():
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)  # the session sets the run's
    if config["export"]:
        from ..exports.run import export_run
        from ..runs import refresh_report

        for item in config["export"]:
            fmt, options = parse_format_item(item)
            result = export_run(run, fmt, options)
            err.print(f"exported {item}: {result['artifact']}")
        refresh_report(run)


class Stopwatch:
    """Wall seconds per step of a run, in order (``timing.json``'s ``steps``): what the fixed
    costs of a run are, next to training."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        """Charge the time since the previous lap to ``name``."""
        now = time.perf_counter()
        self.steps[name] = round(self.steps.get(name, 0.0) + now - self._last, 2)
        self._last = now


def prefetch_weights(spec: ModelSpec, config: dict[str, Any]) -> None:
    """Fetch the backbone's weights (as ``zooft pull`` does) before TensorFlow is imported, so a
    missing download offline or without network fails in a second, not after the import."""
    from ..cache import cache_root
    from ..plugins import get_host

    source = get_host().backbone_source(spec.source)
    if source.fetch is not None and config["weights"] == "pretrained":
        source.fetch(spec, from_file=None, cache_dir=cache_root())


def check_exports(items: list[str]) -> None:
    """Fail before training, not after it, on an unknown ``--export`` format or option
    (``FORMAT``, ``FORMAT:QUANTIZE`` or ``FORMAT:KEY=VALUE,…``)."""
    from ..plugins import get_host

    from ..exports.run import split_options

    host = get_host()
    for item in items:
        fmt, options = parse_format_item(item)
        split_options(host.exporter(fmt), options)


