"""``check_plugin(name)``: drive everything a plugin registers through zooft's real code paths.

What is checked, per kind (each failure says what the plugin must change):

- the plugin module: importing it imports no TensorFlow/Keras (a fresh interpreter);
- backbones: offline, the factory builds a :class:`zooft.Backbone` for the smallest of its
  registry entries that builds here (entries whose weights are not here are skipped), from raw
  inputs (images ``(None, h, w, 3)`` in 0–255, or strings ``(None,)``), with the outputs its
  tasks need, finite on raw inputs, and layer groups naming real layers (a backbone with its
  own ``set_trainable``: 0 groups freeze it, 1 opens some weights, all at least as many); with
  ``ZOOFT_OFFLINE=1`` and an empty cache, the smallest entry with remote weights (an URL
  weight, or an URL / hub handle such as ``https://`` or ``kaggle://``) raises
  :class:`zooft.OfflineError`;
- data formats: ``sniff`` is fast and TensorFlow-free, ``load`` returns an index (paths or
  texts, never pixels) that zooft's data check accepts;
- tasks: a tiny ``zooft tune`` through the shared training core, then ``eval``, ``predict``
  (plain and ``--json``) and every built-in exporter's parity check;
- exporters: ``zooft export`` of a tiny run (written atomically, reloaded, parity passed), then
  ``predict`` and ``bench`` on the artifact.

Every command that trains, exports or runs a model runs in a child process (``python -m
zooft``), so a native crash (a segfault in a kernel) is reported as a conformance failure
naming the plugin instead of ending the test session.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BUILTIN_EXPORTERS = ("savedmodel", "tflite", "onnx")
_SNIFF_SECONDS = 1.0


class ConformanceError(AssertionError):
    """The plugin does not conform; the message lists every failure and the fix."""


@dataclass
class ConformanceReport:
    """What :func:`check_plugin` checked, and what failed."""

    plugin: str
    checked: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def fail(self, what: str, fix: str) -> None:
        """Record a failure: what went wrong, then what the plugin must change."""
        self.failures.append(f"{what} -> {fix}")

    def raise_if_failed(self) -> None:
        """Raise :class:`ConformanceError` when anything failed."""
        if self.failures:
            lines = "\n".join(f"  - {f}" for f in self.failures)
            raise ConformanceError(f"plugin {self.plugin!r} fails {len(self.failures)} conformance check(s):\n{lines}")


def _env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "ZOOFT_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.update(extra or {})
    return env


def _zooft(report: ConformanceReport, what: str, args: list[str], *, cwd: Path, env: dict[str, str],
           timeout: float = 900) -> subprocess.CompletedProcess[str] | None:
    """Run ``python -m zooft ARGS`` in a child process; a failure or crash becomes a report entry."""
    proc = subprocess.run([sys.executable, "-m", "zooft", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)
    report.checked.append(what)
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name if -proc.returncode in signal.Signals._value2member_map_ else proc.returncode
        report.fail(f"{what}: the process crashed natively ({name}) in 'zooft {' '.join(args[:1])}'",
                    "a model must never crash the runtime: simplify the layers involved or report the TensorFlow bug"
                    f" (last stderr: {proc.stderr.strip()[-300:]})")
        return None
    if proc.returncode != 0:
        last = [line for line in proc.stderr.strip().splitlines() if line.strip()][-2:]
        report.fail(f"{what}: 'zooft {' '.join(args)}' exited {proc.returncode}: {' | '.join(last)}",
                    "fix the error above (ZOOFT_DEBUG=1 shows the traceback)")
        return None
    return proc


_BATCH = """
import contextlib, io, json, sys
import zooft.cli
for what, argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = zooft.cli.run(argv)
    sys.__stdout__.write(json.dumps({"what": what, "status": status, "stdout": out.getvalue(), "stderr": err.getvalue()}) + "\\n")
    sys.__stdout__.flush()
"""


def _zooft_batch(report: ConformanceReport, label: str, commands: list[tuple[str, list[str]]], *, cwd: Path,
                 env: dict[str, str], timeout: float = 1800) -> dict[str, dict[str, Any]]:
    """Run several commands in one child interpreter (one TensorFlow import), each through
    ``zooft.cli.run``; returns the successful ones by name. A failed command becomes a report
    entry; a native crash of the child is reported with the command it was running."""
    proc = subprocess.run([sys.executable, "-c", _BATCH, json.dumps(commands)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)
    done = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    results: dict[str, dict[str, Any]] = {}
    for item in done:
        report.checked.append(item["what"])
        if item["status"] != 0:
            last = [line for line in item["stderr"].strip().splitlines() if line.strip()][-2:]
            report.fail(f"{item['what']}: exited {item['status']}: {' | '.join(last)}", "fix the error above (ZOOFT_DEBUG=1 shows the traceback)")
        else:
            results[item["what"]] = item
    if proc.returncode != 0 and len(done) < len(commands):
        running = commands[len(done)][0]
        how = f"crashed natively ({signal.Signals(-proc.returncode).name})" if proc.returncode < 0 else f"exited {proc.returncode}"
        report.fail(f"{label}: the process {how} during {running!r}",
                    "a model must never crash the runtime: simplify the layers involved or report the TensorFlow bug"
                    f" (last stderr: {proc.stderr.strip()[-300:]})")
    return results


def _json(proc: subprocess.CompletedProcess[str] | dict[str, Any] | None) -> Any:
    if proc is None:
        return None
    return json.loads(proc["stdout"] if isinstance(proc, dict) else proc.stdout)


def _check_import(report: ConformanceReport, module: str) -> None:
    code = ("import importlib, sys; importlib.import_module(sys.argv[1]);"
            "print(','.join(m for m in ('tensorflow', 'keras', 'torch') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code, module], capture_output=True, text=True, timeout=300)
    report.checked.append(f"import {module}")
    if proc.returncode != 0:
        report.fail(f"importing {module} failed: {proc.stderr.strip().splitlines()[-1:]}", "make the module importable")
    elif proc.stdout.strip():
        report.fail(f"importing {module} imports {proc.stdout.strip()}",
                    "import TensorFlow/Keras inside the factories and methods that need them, not at module level")


def _remote(spec: Any) -> bool:
    """Whether ``spec``'s weights are fetched from elsewhere: an URL weight, or an URL or model
    hub handle (``https://…``, ``kaggle://…``) as its locator or weights location."""
    places = (spec.locator or "", spec.weights.location or "")
    return spec.weights.kind == "url" or any("://" in p and not p.startswith("file://") for p in places)


def _build(source: Any, spec: Any, size: tuple[int, int] | None, weights: str, cache_dir: Any = None) -> Any:
    """``spec`` built by its source's factory, offline, with the options zooft passes."""
    import zooft

    return source.factory(spec, input_size=size, weights=weights, offline=True, cache_dir=cache_dir or zooft.cache_root(),
                          sequence_length=16 if spec.modality == "text" else None)


def _offline(flag: str | None) -> str | None:
    """Set ``ZOOFT_OFFLINE`` to ``flag`` (``None``: unset); returns the previous value."""
    previous = os.environ.get("ZOOFT_OFFLINE")
    if flag is None:
        os.environ.pop("ZOOFT_OFFLINE", None)
    else:
        os.environ["ZOOFT_OFFLINE"] = flag
    return previous


def _check_backbone(report: ConformanceReport, host: Any, source: Any, registry: Any, tasks: Any) -> None:
    import zooft

    specs = sorted((s for s in registry.entries.values() if s.source == source.name), key=lambda s: (s.params or 0, s.name))
    if not specs:
        report.skipped.append(f"backbone source {source.name}: no registry entry to build (ship one with zooft_registry_files)")
        return
    backbone = spec = None
    not_here: list[str] = []
    previous = _offline("1")  # nothing is downloaded: an entry whose weights are not here is skipped
    try:
        for spec in specs:  # the smallest entry that builds here
            size = (32, 32) if spec.modality == "image" else None
            try:
                try:
                    backbone = _build(source, spec, size, weights="none")
                except zooft.ZooftError:  # e.g. a hub model is its weights: no random init
                    backbone = _build(source, spec, size, weights="pretrained")
            except TypeError as exc:
                report.checked.append(f"backbone {spec.name}")
                report.fail(f"backbone {spec.name}: factory(spec, **options) raised TypeError: {exc}",
                            "accept **kwargs in the factory: zooft passes input_size, weights, offline, cache_dir, sequence_length")
                return
            except zooft.ZooftError as exc:
                not_here.append(f"backbone {spec.name}: not buildable here ({exc})")
                continue
            break
    finally:
        _offline(previous)
    report.skipped.extend(not_here[:3] + ([f"... and {len(not_here) - 3} more {source.name} entries"] if len(not_here) > 3 else []))
    if backbone is not None:
        _check_built(report, source, spec, backbone, tasks)
    _check_offline(report, source, [s for s in specs if _remote(s)])


def _check_built(report: ConformanceReport, source: Any, spec: Any, backbone: Any, tasks: Any) -> None:
    import numpy as np

    import zooft

    what = f"backbone {spec.name}"
    report.checked.append(what)
    if not isinstance(backbone, zooft.Backbone):
        report.fail(f"{what}: the factory returned {type(backbone).__name__}", "return zooft.Backbone(model=..., spec=..., ...)")
        return
    model = backbone.model
    shape = tuple(model.inputs[0].shape)
    if spec.modality == "image":
        if len(shape) != 4 or shape[-1] != 3:
            report.fail(f"{what}: input shape {shape}", "take raw images (None, h, w, 3) with the preprocessing inside the model")
            return
        raw = np.random.default_rng(0).integers(0, 256, (2, *shape[1:3], 3)).astype("float32")
        fix = "put the preprocessing (scaling) inside the graph"
    else:
        dtype = str(getattr(model.inputs[0], "dtype", ""))
        if len(shape) != 1 or "string" not in dtype:
            report.fail(f"{what}: input {shape} {dtype}", "take raw strings (None,) with the tokenizer inside the model")
            return
        import tensorflow as tf

        raw = tf.constant(["a short text", "Another, somewhat longer text: with punctuation, UPPER case and 42."])
        fix = "tokenize inside the model and return finite outputs"
    out = model(raw, training=False)
    out = out if isinstance(out, dict) else {"pooled": out}
    if not all(np.isfinite(np.asarray(v)).all() for v in out.values()):
        report.fail(f"{what}: non-finite outputs on raw {spec.modality} inputs", fix)
    if not backbone.layer_groups:
        report.fail(f"{what}: layer groups missing", "list the model's layer names from input to output in blocks (Backbone.layer_groups)")
    elif type(backbone).set_trainable is zooft.Backbone.set_trainable:
        layer_names = {layer.name for layer in model.layers}
        unknown = [n for group in backbone.layer_groups for n in group if n not in layer_names]
        if unknown:
            report.fail(f"{what}: layer groups name unknown layers {unknown[:3]}",
                        "list the model's layer names from input to output in blocks (Backbone.layer_groups)")
    else:  # its own set_trainable: judged by what it opens, group by group
        opened = []
        for groups in (0, 1, "all"):
            backbone.set_trainable(groups, train_batchnorm=True)
            opened.append(len(model.trainable_weights))
        if opened[0] != 0 or not 0 < opened[1] <= opened[2]:
            report.fail(f"{what}: set_trainable(0 / 1 / 'all') left {' / '.join(map(str, opened))} weights trainable",
                        "0 groups must freeze the backbone, and each further group open more of its weights")
    for task in tasks:
        if spec.modality in task.modalities:
            missing = [n for n in _required(task) if n not in backbone.outputs]
            if task.plugin == source.plugin and missing:
                report.fail(f"{what}: lacks {missing} that this plugin's task {task.name!r} requires",
                            "add those named outputs to the backbone model's output dict")


def _check_offline(report: ConformanceReport, source: Any, remote: list[Any]) -> None:
    """The smallest entry with remote weights, offline with an empty cache: :class:`zooft.OfflineError`."""
    import zooft

    if not remote:
        return
    spec = remote[0]
    what = f"backbone {spec.name}: offline without its weights"
    report.checked.append(what)
    size = (32, 32) if spec.modality == "image" else None
    previous = _offline("1")
    try:
        with tempfile.TemporaryDirectory(prefix="zooft-empty-cache-") as empty:
            _build(source, spec, size, weights="pretrained", cache_dir=empty)
    except zooft.OfflineError:
        pass
    except Exception as exc:  # noqa: BLE001 - anything else is the finding
        report.fail(f"{what} raised {type(exc).__name__}: {str(exc)[:200]}",
                    "raise zooft.OfflineError naming the command that fetches the weights")
    else:
        report.fail(f"{what} built anyway", "raise zooft.OfflineError when offline and the weights are not cached")
    finally:
        _offline(previous)


def _required(task: Any) -> tuple[str, ...]:
    from ..task import required_outputs

    return required_outputs(task.requires)


def _check_format(report: ConformanceReport, fmt: Any, data: Path | None, task: str) -> None:
    import zooft

    what = f"data format {fmt.name}"
    if data is None:
        report.skipped.append(f"{what}: no sample data (pass data={{'{fmt.name}': PATH}} to check_plugin)")
        return
    report.checked.append(what)
    module = getattr(fmt.sniff, "__module__", "")
    code = ("import importlib, sys, time; f = getattr(importlib.import_module(sys.argv[1]), sys.argv[2]);"
            "t = time.perf_counter(); r = f(sys.argv[3]); t = time.perf_counter() - t;"
            "print(r, t, any(m in sys.modules for m in ('tensorflow', 'keras')))")
    proc = subprocess.run([sys.executable, "-c", code, module, fmt.sniff.__name__, str(data)], capture_output=True,
                          text=True, timeout=300)
    if proc.returncode != 0:
        report.fail(f"{what}: sniff({data}) raised: {proc.stderr.strip().splitlines()[-1:]}", "sniff must return a bool, never raise")
    else:
        result, seconds, heavy = proc.stdout.split()
        if result != "True":
            report.fail(f"{what}: sniff() does not recognise its own sample data {data}", "make sniff recognise the format")
        if float(seconds) > _SNIFF_SECONDS:
            report.fail(f"{what}: sniff took {float(seconds):.2f} s", "sniff only looks at names and the first bytes")
        if heavy == "True":
            report.fail(f"{what}: sniff imported TensorFlow", "sniff must not import TensorFlow")
    loaded = fmt.load(str(data))
    if not isinstance(loaded, zooft.LabeledData):
        report.fail(f"{what}: load returned {type(loaded).__name__}", "return zooft.LabeledData")
        return
    examples = [ex for split in loaded.splits.values() for ex in split]
    if not examples or not all(isinstance(ex, zooft.Example) and isinstance(ex.source, str) for ex in examples):
        report.fail(f"{what}: load returned no examples, or sources that are not str", "index paths or texts, never decoded data")
    from ..data.formats import load_data

    try:
        load_data(str(data), format=fmt.name, task=task)
    except zooft.ZooftError as exc:
        report.fail(f"{what}: zooft's data check rejected the sample: {exc}", "return labels within classes, paths that exist")


def _artifact_checks(report: ConformanceReport, run: Path, result: dict[str, Any]) -> None:
    exports = run / "exports"
    leftovers = [p.name for p in exports.iterdir() if p.name.startswith(".tmp-")]
    if leftovers:
        report.fail(f"export {result['name']}: temporary directories left behind: {leftovers}", "write only inside out_dir")
    parity = json.loads((Path(result["path"]) / "parity.json").read_text(encoding="utf-8"))
    if not parity.get("passed") or not parity.get("verified", True):
        report.fail(f"export {result['name']}: parity {parity.get('reason')}", "verify against context.model with zooft.build_parity_report")


def check_plugin(
    name: str,
    *,
    data: Mapping[str, str | os.PathLike[str]] | None = None,
    backbone: str | None = None,
    workdir: str | os.PathLike[str] | None = None,
    exporters: tuple[str, ...] = BUILTIN_EXPORTERS,
    bench: bool = True,
    image_size: int | None = 32,
    tune_args: Mapping[str, Sequence[str]] | None = None,
) -> ConformanceReport:
    """Check the installed plugin ``name`` (its entry-point name); raise :class:`ConformanceError`
    listing every failure, else return the report.

    ``data`` maps a task or data-format name to sample data for it (built-in shapes are
    generated: image folders for ``classify``, COCO for ``detect``, a text CSV for
    ``text-classify``; for the formats ``image-folder``, ``csv``, ``coco``, ``text-csv``,
    ``text-jsonl`` and ``text-folder``). ``backbone`` is used to train the plugin's tasks and to
    make the run the plugin's exporters export (default: the plugin's own smallest backbone, else
    ``embedded``). ``exporters`` are the built-in formats each task's run is exported to;
    ``image_size`` keeps runs on image backbones tiny. Each tiny run is ``zooft tune ... --epochs 1
    --fine-tune-epochs 1 --batch-size 8 --augment none``; ``tune_args`` maps a task name to more
    ``zooft tune`` arguments, appended (a flag given again wins), e.g. for a task whose export
    parity needs a trained model. Checks sharing a ``workdir`` reuse its runs (one tiny classify
    run serves every exporter plugin).

    Backbones are built offline (``ZOOFT_OFFLINE=1``): the source's smallest registry entry that
    builds here is checked (random weights, or its own when the source refuses random ones);
    entries whose weights are not here are skipped. To check a source whose zoo is all remote,
    give it a local entry in a user registry file (``ZOOFT_REGISTRY``).
    """
    from ..errors import ZooftError
    from ..plugins import get_host
    from ..registry import load_registry, resolve_model
    from .data import make_coco, make_image_csv, make_image_folder, make_text_csv, make_text_folder, make_text_jsonl

    report = ConformanceReport(name)
    host = get_host()
    record = host.records.get(name)
    if record is None:
        report.fail(f"no plugin named {name!r} is loaded", "install it and list it under the 'zooft' entry-point group")
        report.raise_if_failed()
    if record.errors:
        report.fail(f"the plugin has load errors: {'; '.join(record.errors)}", "fix them ('zooft plugins' shows them)")
        report.raise_if_failed()
    _check_import(report, record.module.split(":")[0])
    root = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix=f"zooft-check-{name}-"))
    root.mkdir(parents=True, exist_ok=True)
    env = _env(root / "home")
    given = {k: Path(v) for k, v in (data or {}).items()}
    registry = load_registry(host=host)
    mine = {kind: [host.items[kind][n] for n in record.registered.get(kind, [])]
            for kind in ("backbones", "tasks", "datasets", "exporters")}
    all_tasks = list(host.items["tasks"].values())

    for source in mine["backbones"]:
        _check_backbone(report, host, source, registry, all_tasks)

    # a generated sample set: (maker, where its path is relative to its folder); made once per workdir
    makers: dict[str, tuple[Any, str]] = {
        "image-folder": (lambda target: make_image_folder(target, per_class=6), "."),
        "csv": (lambda target: make_image_csv(target, per_class=6), "images.csv"),
        "coco": (lambda target: make_coco(target, images=24, size=64), "."),
        "text-csv": (lambda target: make_text_csv(target, per_class=6), "texts.csv"),
        "text-jsonl": (lambda target: make_text_jsonl(target, per_class=6), "texts.jsonl"),
        "text-folder": (lambda target: make_text_folder(target, per_class=6), "."),
    }

    def generated(shape: str, target: Path) -> Path:
        make, relative = makers[shape]
        path = (target / relative) if relative != "." else target
        return path if target.exists() else make(target)

    def sample_data(task: str) -> Path | None:
        if task in given:
            return given[task]
        shape = {"classify": "image-folder", "detect": "coco", "text-classify": "text-csv"}.get(task)
        return generated(shape, root / "data" / task) if shape else None

    def format_data(fmt: str) -> Path | None:
        """Sample data in a built-in format's own shape (third-party formats: ``data=``)."""
        if fmt in given:
            return given[fmt]
        return generated(fmt, root / "formats" / fmt) if fmt in makers else None

    for fmt in mine["datasets"]:
        task = fmt.tasks[0] if fmt.tasks else "classify"
        _check_format(report, fmt, format_data(fmt.name), task)

    own_backbone = next((s.name for s in sorted(registry.entries.values(), key=lambda s: (s.params or 0, s.name))
                         if s.source in {b.name for b in mine["backbones"]}), None)
    chosen = backbone or own_backbone or "embedded"
    runs: dict[str, Path] = {}

    def tune_run(task: str) -> Path | None:
        if task in runs:
            return runs[task]
        sample = sample_data(task)
        if sample is None:
            report.skipped.append(f"task {task}: no sample data (pass data={{'{task}': PATH}})")
            return None
        run = root / "runs" / task
        if (run / "metrics.json").is_file():  # an earlier check_plugin with the same workdir trained it
            runs[task] = run
            return run
        args = ["tune", "--backbone", chosen, "--task", task, "--data", str(sample), "--epochs", "1",
                "--fine-tune-epochs", "1", "--batch-size", "8", "--augment", "none", "--output", str(run)]
        try:
            spec = resolve_model(chosen, host=host)
        except ZooftError:
            spec = None  # the tune below says why
        if image_size and (spec is None or spec.modality == "image"):
            args += ["--image-size", str(image_size)]
        args += list((tune_args or {}).get(task, ()))
        if _zooft(report, f"task {task}: tune on {chosen}", args, cwd=root, env=env) is None:
            return None
        runs[task] = run
        return run

    for task in mine["tasks"]:
        run = tune_run(task.name)  # a child of its own: a crash in training is named as such
        if run is None:
            continue
        sample = _one_input(run)
        installed = [fmt for fmt in exporters if fmt in host.items["exporters"]]
        report.skipped.extend(f"task {task.name}: exporter {fmt} not installed" for fmt in exporters if fmt not in installed)
        commands = [(f"task {task.name}: eval", ["eval", str(run), "--json"]),
                    (f"task {task.name}: eval (text)", ["eval", str(run)])]
        if sample is not None:
            commands += [(f"task {task.name}: predict --json", ["predict", str(run), "--json", "--", sample]),
                         (f"task {task.name}: predict", ["predict", str(run), "--", sample])]
        commands += [(f"task {task.name}: export {fmt}", ["export", str(run), "--format", fmt, "--json"]) for fmt in installed]
        if sample is not None:
            commands += [(f"task {task.name}: predict on the {fmt} artifact",
                          ["predict", str(run / "exports" / fmt), "--json", "--", sample]) for fmt in installed]
        results = _zooft_batch(report, f"task {task.name}", commands, cwd=root, env=env)
        for fmt in installed:
            exported = _json(results.get(f"task {task.name}: export {fmt}"))
            if exported is not None:
                _artifact_checks(report, run, exported)

    for exporter in mine["exporters"]:
        run = tune_run("classify") if "classify" in host.items["tasks"] else None
        if run is None:
            report.skipped.append(f"exporter {exporter.name}: no classify run to export")
            continue
        sample = _one_input(run)
        label = f"exporter {exporter.name}"
        commands = [(f"{label}: export", ["export", str(run), "--format", exporter.name, "--json"])]
        if sample is not None:
            commands.append((f"{label}: predict on its artifact",
                             ["predict", str(run / "exports" / exporter.name), "--json", "--", sample]))
        if bench:
            commands.append((f"{label}: bench", ["bench", str(run), "--runs", "5", "--json"]))
        results = _zooft_batch(report, label, commands, cwd=root, env=env)
        exported = _json(results.get(f"{label}: export"))
        if exported is not None:
            _artifact_checks(report, run, exported)
        rows = _json(results.get(f"{label}: bench"))
        if rows is not None and exported is not None and exported["name"] not in {r["name"] for r in rows["rows"]}:
            reason = next((s["reason"] for s in rows.get("skipped", []) if s["name"] == exported["name"]), "not benchmarked")
            report.fail(f"{label}: bench skipped its artifact ({reason})",
                        "give ExporterInfo a load(path) that returns a zooft.Artifact implementing run_batch")
    report.raise_if_failed()
    return report


def _one_input(run: Path) -> str | None:
    """One held-out input of ``run``: a file path, or for a text run a text (its index holds the texts)."""
    index = json.loads((run / "data.json").read_text(encoding="utf-8"))
    for split in ("test", "val", "train"):
        for example in index.get("splits", {}).get(split, []):
            source = example["source"] if isinstance(example, dict) else example[0]
            return str(source)
    return None
