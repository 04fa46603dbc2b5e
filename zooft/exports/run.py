"""Host side of ``zooft export``: options, context, atomic placement and the parity verdict.

The exporter plugin writes into a fresh temporary directory inside ``runs/<name>/exports/``
and checks parity; this module decides what survives:

- passed (or ``verify=False``, recorded as ``verified: false``): the temporary directory
  replaces ``exports/<name>/`` (rename aside, rename in, delete the old one), where ``<name>``
  is the format plus any non-default option values (:func:`export_name`: ``tflite-int8``);
- failed parity: it becomes ``exports/<name>.failed/`` (with ``FAILED.txt`` and
  ``parity.json``) for inspection, and :class:`~zooft.errors.ParityError` is raised;
- any other error: it is deleted. A previous good export is never touched by a failed one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .artifacts import path_size
from ..data.records import Example
from ..data.split import stratified_sample
from ..errors import ConfigError, ExportError, ParityError, ZooftError
from ..options import declared_options, unknown_option, validate_options
from ..runs import Run, write_json_atomic
from ..specs import ExporterInfo
from ..swap import swap_into_place
from .protocol import ExportContext, ParityReport

# Options the host consumes; everything else goes to the exporter and must be declared by it.
HOST_OPTIONS: dict[str, Any] = {"tolerance": None, "verify": True, "samples": 200, "calibration_samples": 100}


def export_name(info: ExporterInfo, options: dict[str, Any]) -> str:
    """Directory name under ``exports/``: the format, then each enumerated option's value unless
    it is that option's first (default) value: ``onnx``, ``tflite-int8``, ``tflite-int8-full-uint8``.

    So variants never overwrite each other, while the plain export keeps the plain name.
    """
    parts = [info.name]
    for key, option in declared_options(info.options).items():
        value = options.get(key)
        if option.choices and value is not None and str(value) != str(option.default):
            parts.append(str(value))
    return "-".join(parts)


def _flag(value: Any) -> bool:
    """A bool from a bool or a CLI/config string (``"false"`` must not be truthy), parsed as
    ``zooft tune``'s flags are (zooft.config)."""
    from ..config import parse_flag

    try:
        return parse_flag(value)
    except ValueError:
        raise ConfigError(f"export option verify={value!r} is not valid; allowed: true, false") from None


def split_options(info: ExporterInfo, options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(host options with defaults, exporter options)``, every value checked; ``None`` = not given."""
    host = dict(HOST_OPTIONS)
    exporter: dict[str, Any] = {}
    for key, value in options.items():
        if value is None:
            continue
        if key in HOST_OPTIONS:
            host[key] = value
            continue
        if key not in info.options:
            raise unknown_option("export", info.name, key, [*info.options, *HOST_OPTIONS])
        exporter[key] = value
    exporter = validate_options("export", info.name, info.options, exporter)
    try:
        tolerance = host["tolerance"]
        host["tolerance"] = None if tolerance is None else float(tolerance)
        host["samples"], host["calibration_samples"] = int(host["samples"]), int(host["calibration_samples"])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad export option value: {exc}", hint="tolerance is a number, samples an integer") from None
    if (host["tolerance"] is not None and not host["tolerance"] >= 0) or host["samples"] < 1 or host["calibration_samples"] < 1:
        raise ConfigError(
            f"export options out of range: tolerance={host['tolerance']}, samples={host['samples']},"
            f" calibration_samples={host['calibration_samples']}",
            hint="tolerance >= 0; samples and calibration_samples >= 1",
        )
    host["verify"] = _flag(host["verify"])
    return host, exporter


def _inputs(run: Run, examples: list[Example]) -> np.ndarray:
    if run.data().modality != "image":
        return np.asarray([ex.source for ex in examples], dtype=object)
    if not examples:
        return np.zeros((0, *(run.input_size or (0, 0)), 3), dtype=np.float32)
    # the training pipeline's own decode + resize, so parity sees exactly the pixels training saw
    from ..data.images import load_images_for_predict

    return np.asarray(load_images_for_predict([ex.source for ex in examples], run.input_size), dtype=np.float32)


def build_context(
    run: Run, exporter_options: dict[str, Any], host: dict[str, Any], format: str = ""  # noqa: A002
) -> tuple[ExportContext, str]:
    """The :class:`ExportContext` for ``run`` and the split its parity samples come from.

    The task's optional hooks (zooft/task.py) pick the model to convert for ``format`` and turn
    raw samples into its inputs; without them the trained model takes raw images as they are.
    """
    from .. import __version__
    from ..task import export_inputs, export_model

    data = run.data()
    split = next((s for s in ("test", "val") if data.splits.get(s)), "train")
    # Class-stratified, proportional, every class present (zooft.data.split): with the default
    # 200 samples and a test split of at most 200, accuracy_reference *is* the test accuracy.
    samples = stratified_sample(data.splits.get(split, []), host["samples"], seed=0) if host["verify"] else []
    if host["verify"] and not samples:
        raise ExportError(f"run {run.path.name} has no examples to check parity on", hint="pass verify=False (--no-verify)")
    calibration = stratified_sample(data.splits.get("train", []), host["calibration_samples"], seed=1)
    task = run.load_task()
    trained = run.load_model()
    spec = run.model_spec
    metadata = {
        "zooft_version": __version__,
        "run": run.path.name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "task": run.task,
        "labels": run.classes,
        "input_size": list(run.input_size) if run.input_size else None,
        "input_dtype": str(trained.inputs[0].dtype),
        "input_range": [0, 255] if data.modality == "image" else None,
        "preprocessing": dict(spec.get("preprocessing", {})),
        "source_model": spec.get("name"),
        "source_description": spec.get("description") or None,
        "license": spec.get("license"),  # the backbone entry's; exporters write it into model metadata
        "options": dict(exporter_options),
    }
    model = export_model(task, trained, format, metadata)  # may add to metadata (e.g. vocabulary)
    context = ExportContext(
        model=model,
        task=run.task,
        classes=run.classes,
        metadata=metadata,
        samples=export_inputs(task, _inputs(run, samples), metadata),
        sample_labels=[ex.label for ex in samples],
        sample_targets=[ex.target for ex in samples],
        calibration=export_inputs(task, _inputs(run, calibration), metadata),
        task_object=task,
        options=dict(exporter_options),
        tolerance=host["tolerance"],
        verify=host["verify"],
    )
    return context, split


def _fail(tmp: Path, exports: Path, name: str, report: ParityReport, milder: list[str]) -> ParityError:
    failed = exports / f"{name}.failed"
    (tmp / "FAILED.txt").write_text(
        f"This export FAILED its parity check and must not be used.\n{report.reason}\nSee parity.json.\n",
        encoding="utf-8",
    )
    if failed.exists():
        shutil.rmtree(failed)
    os.replace(tmp, failed)
    if milder:  # a quantized export: a gentler mode usually passes
        fix = f"try another quantization ({', '.join(milder)}) or accept a larger difference with --tolerance"
    else:  # an unquantized export should match: more likely a conversion bug than noise
        fix = "an unquantized export should match closely (please report it); --tolerance accepts a larger difference"
    return ParityError(f"{name} export failed parity: {report.reason}", hint=f"kept for inspection in {failed}; {fix}")


def export_run(run: Run | str | os.PathLike[str], format: str, options: dict[str, Any] | None = None) -> dict[str, Any]:  # noqa: A002
    """Export a finished run to ``format`` and check parity; returns a JSON-ready summary.

    ``options``: the exporter's own (e.g. ``quantize``, ``io_type``, ``opset``) plus
    ``tolerance`` (replaces the mode's gate, see docs/export.md), ``verify`` (default True), ``samples``
    (parity images, default 200) and ``calibration_samples`` (default 100). Raises
    :class:`ConfigError` for bad options, :class:`ParityError` when the artifact drifts and
    :class:`ExportError` when conversion fails.
    """
    from ..plugins import get_host
    from ..runlock import clean_run_debris, run_lock

    run = run if isinstance(run, Run) else Run.open(run)
    with run_lock(run.path):  # one writer per run (re-entrant: tune --export holds it already)
        clean_run_debris(run.path)  # exports/.tmp-* and .old-* of an export killed midway
        return _export_locked(run, format, options, get_host().exporter(format))


def _export_locked(run: Run, format: str, options: dict[str, Any] | None, info: ExporterInfo) -> dict[str, Any]:  # noqa: A002
    """:func:`export_run` with the run's lock held."""
    host, exporter_options = split_options(info, dict(options or {}))
    name = export_name(info, exporter_options)
    exporter = info.factory()
    context, split = build_context(run, exporter_options, host, format)
    exports = run.exports_dir()
    exports.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=exports))
    try:
        artifact = Path(exporter.export(context, tmp))
        if not artifact.exists() or tmp not in artifact.resolve().parents:
            raise ExportError(f"exporter {format!r} returned {artifact}, which is not inside its output directory")
        if host["verify"]:
            report = exporter.verify(context, artifact)
            report.metrics["samples_split"] = split
        else:
            report = ParityReport(format=format, passed=False, samples=0, verified=False,
                                  reason="not verified: exported with verify=False")
        write_json_atomic(tmp / "parity.json", report.to_dict())
        if not (tmp / "metadata.json").exists():
            write_json_atomic(tmp / "metadata.json", context.metadata)
        if report.verified and not report.passed:
            quantize = declared_options(info.options).get("quantize")
            modes = list(quantize.choices or ()) if quantize else []
            current = exporter_options.get("quantize", modes[0] if modes else None)
            milder = [m for m in modes if m != current] if modes and current != modes[0] else []
            raise _fail(tmp, exports, name, report, milder)
        final = exports / name
        swap_into_place(tmp, final, final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}"))
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, Exception) and not isinstance(exc, ZooftError):
            raise ExportError(
                f"{format} export failed: {type(exc).__name__}: {exc}".splitlines()[0],
                hint="nothing was written; ZOOFT_DEBUG=1 shows the traceback",
            ) from exc
        raise
    shutil.rmtree(exports / f"{name}.failed", ignore_errors=True)  # stale: this attempt passed
    artifact = final / artifact.relative_to(tmp)
    return {
        "format": format,
        "name": name,
        "path": str(final),
        "artifact": str(artifact),
        "size_bytes": path_size(artifact),
        "options": exporter_options,
        "parity": report.to_dict(),
    }


def export_format(path: Path) -> str | None:
    """The format that wrote ``path`` (an ``exports/<name>/`` directory or a file in it), from
    its ``parity.json`` / ``metadata.json``; None when neither says."""
    import json

    directory = path if path.is_dir() else path.parent
    for name in ("parity.json", "metadata.json"):
        file = directory / name
        if file.is_file():
            try:
                value = json.loads(file.read_text(encoding="utf-8")).get("format")
            except (OSError, ValueError, AttributeError):
                continue
            if value:
                return str(value)
    return None


def open_export(path: str | os.PathLike[str]) -> Any:
    """Open an exported artifact in its runtime: through its format's ``ExporterInfo.load`` when
    the format has one (third-party formats), else the host's TFLite / ONNX / SavedModel loader."""
    from ..plugins import get_host
    from .artifacts import load_artifact

    path = Path(path)
    fmt = export_format(path)
    if fmt is not None:
        host = get_host()
        info = host.items["exporters"].get(fmt)
        if info is not None and info.load is not None:
            artifact = info.load(path)
            if artifact is None:
                raise ExportError(f"exporter {fmt!r} (plugin {info.plugin}) could not open {path}")
            return artifact
        if info is None:
            try:
                return load_artifact(path)
            except ExportError as exc:
                raise ExportError(
                    f"{path} is a {fmt} export, and no installed plugin registers {fmt!r}",
                    hint=f"install or enable the plugin that provides {fmt!r} ('zooft plugins' lists them)",
                ) from exc
    return load_artifact(path)
