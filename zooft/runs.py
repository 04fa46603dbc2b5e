"""The run directory: the interface between ``tune``, ``eval``, ``predict`` and ``export``.

Layout of ``runs/<name>/``::

    config.json      the resolved config (and where each value came from)
    model.keras      the trained model: raw inputs -> task outputs
    labels.json      class names, in output order
    data.json        the data set index: format, root, classes, examples per split
    metrics.json     final evaluation of the best model
    history.json     per-epoch logs of every phase
    state.json       training progress (phase, finished epochs) for --resume
    checkpoints/     per-epoch weights and optimizer state
    logs/            TensorBoard event files
    report.md/.html  the human report, with plots/
    exports/<fmt>/   each exported artifact with its parity.json
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .data.records import Example, LabeledData
from .errors import RunError, ZooftError


def check_model_file(path: str | os.PathLike[str]) -> None:
    """Raise :class:`RunError` when the ``.keras`` file at ``path`` is truncated or corrupt.

    A ``.keras`` file is a zip archive: a truncated one has lost its central directory (at the
    end), which opening it finds without reading the weights. Keras itself reports such a file
    as "File not found", which sends the user looking for a file that is there."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise RunError(
            f"corrupt or truncated model file {path} ({type(exc).__name__}: {exc})",
            hint="it was cut off (disk full, killed copy?); resume the run with 'zooft tune --resume RUN' or re-run it",
        ) from None
    if "config.json" not in names:
        raise RunError(f"corrupt model file {path}: not a Keras model archive (no config.json inside)",
                       hint="resume the run with 'zooft tune --resume RUN' or re-run it")


def _default_mode() -> int:
    """The permission bits a plain ``open()`` would give (mkstemp would give 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` on a temporary sibling, then ``os.replace`` it onto ``path``.

    Readers never see half a file and a crash leaves the old file intact. The temporary
    name keeps ``path``'s suffixes, since Keras chooses formats by file name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.name, dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, _default_mode())
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if not isinstance(exc, ZooftError) and exc.filename in (None, tmp):
            # a write error (disk full) names no path, or the temporary one: name the real one
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write JSON atomically (see :func:`atomic_write`)."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(obj, handle, indent=2, sort_keys=False, default=str)
            handle.write("\n")

    atomic_write(path, write)


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file, turning a missing or corrupt file into a RunError."""
    from .data.files import DataFileError, read_data_file

    try:
        text = read_data_file(path).decode("utf-8")  # regular files only, size-capped
        return json.loads(text)
    except DataFileError as exc:
        if exc.reason == "no such file":
            raise RunError(f"missing file {path}", hint="is this a zooft run directory? ('zooft tune' writes one)") from None
        raise RunError(f"cannot read {path}: {exc.reason}", hint="is this a zooft run directory?") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(f"corrupt JSON in {path}: {exc}", hint="the run was interrupted while writing; re-run it") from None
    except RecursionError:
        raise RunError(f"corrupt JSON in {path}: nested too deeply", hint="re-run the training") from None


def data_to_json(data: LabeledData) -> dict[str, Any]:
    """Serialise a data index (paths and labels, not pixels) for ``data.json``."""
    return {
        "format": data.format,
        "root": data.root,
        "modality": data.modality,
        "classes": list(data.classes),
        "skipped": [list(item) for item in data.skipped],
        "warnings": list(data.warnings),
        "splits": {
            split: [[ex.source, list(ex.label) if isinstance(ex.label, tuple) else ex.label, ex.target] for ex in examples]
            for split, examples in data.splits.items()
        },
    }


def data_from_json(doc: dict[str, Any]) -> LabeledData:
    """The inverse of :func:`data_to_json`."""
    splits = {
        split: [Example(src, tuple(lbl) if isinstance(lbl, list) else lbl, tgt) for src, lbl, tgt in rows]
        for split, rows in doc["splits"].items()
    }
    return LabeledData(
        classes=list(doc["classes"]),
        splits=splits,
        format=doc.get("format", ""),
        root=doc.get("root", ""),
        modality=doc.get("modality", "image"),
        skipped=[tuple(item) for item in doc.get("skipped", [])],
        warnings=list(doc.get("warnings", [])),
    )


class Run:
    """A run directory, opened lazily: nothing heavy is read until asked for."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).resolve()
        self._config: dict[str, Any] | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Run:
        """Open a finished run; a missing directory or model is a RunError with a hint."""
        run = cls(path)
        if not run.path.is_dir():
            raise RunError(f"no run directory at {path}", hint="pass the --output directory of a 'zooft tune' run")
        if not (run.path / "config.json").is_file():
            raise RunError(f"{path} is not a zooft run (no config.json)", hint="pass a directory written by 'zooft tune'")
        if not (run.path / "model.keras").is_file():
            raise RunError(
                f"run {path} has no trained model (model.keras); it did not finish",
                hint=f"resume it with 'zooft tune --resume {path}'",
            )
        return run

    # -- files -------------------------------------------------------------------------------
    def file(self, name: str) -> Path:
        """Path of a file inside the run."""
        return self.path / name

    def write_json(self, name: str, obj: Any) -> None:
        """Atomically write ``name`` (JSON) inside the run."""
        write_json_atomic(self.path / name, obj)

    def read_json(self, name: str) -> Any:
        """Read ``name`` (JSON) from the run."""
        return read_json(self.path / name)

    @property
    def config(self) -> dict[str, Any]:
        """The resolved config the run was trained with."""
        if self._config is None:
            self._config = self.read_json("config.json")["values"]
        return self._config

    @property
    def classes(self) -> list[str]:
        """Class names in the order of the model's outputs."""
        return list(self.read_json("labels.json")["classes"])

    @property
    def task(self) -> str:
        """The task name (``classify`` …)."""
        return str(self.config["task"])

    @property
    def input_size(self) -> tuple[int, int] | None:
        """The image size the model takes, ``(height, width)``."""
        size = self.config.get("image_size")
        return (int(size[0]), int(size[1])) if size else None

    @property
    def model_spec(self) -> dict[str, Any]:
        """The registry entry of the backbone, as it was when the run started."""
        return dict(self.read_json("config.json").get("backbone_spec", {}))

    def data(self) -> LabeledData:
        """The data set index the run trained on."""
        return data_from_json(self.read_json("data.json"))

    def exports_dir(self) -> Path:
        """Where ``zooft export`` writes artifacts."""
        return self.path / "exports"

    # -- model -------------------------------------------------------------------------------
    def custom_objects(self) -> dict[str, Any]:
        """Keras classes the saved model needs, collected from its backbone source and task."""
        from .plugins import get_host

        host = get_host()
        objects: dict[str, Any] = {}
        source = self.model_spec.get("source")
        if source and source in host.items["backbones"]:
            hook = host.backbone_source(source).custom_objects
            objects.update(hook() if hook else {})
        if self.task in host.items["tasks"]:
            hook = host.task(self.task).custom_objects
            objects.update(hook() if hook else {})
        return objects

    def load_model(self, name: str = "model.keras") -> Any:
        """Load the trained Keras model; a missing, truncated or corrupt file is a RunError."""
        path = self.path / name
        if not path.is_file():
            raise RunError(f"missing model file {path}", hint="re-run 'zooft tune' or resume it")
        check_model_file(path)
        import keras

        try:
            return keras.saving.load_model(path, custom_objects=self.custom_objects(), compile=False)
        except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise RunError(
                f"cannot load model file {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                hint="the file is damaged or from another version; resume or re-run the training",
            ) from None

    def load_task(self) -> Any:
        """The task object (from its plugin) this run was trained for."""
        from .plugins import get_host

        return get_host().task(self.task).factory()


def refresh_report(run: Run) -> None:
    """Rewrite the run's report from its files, with every passing export and the benchmark.

    Called after ``zooft export`` and ``zooft bench`` so the report always shows them."""
    from .report import write_report

    exports = []
    if run.exports_dir().is_dir():
        for parity in sorted(run.exports_dir().glob("*/parity.json")):
            if parity.parent.name.startswith(".") or parity.parent.name.endswith(".failed"):
                continue
            report = read_json(parity)
            size = sum(p.stat().st_size for p in parity.parent.rglob("*") if p.is_file())
            exports.append({"format": parity.parent.name, "path": str(parity.parent), "size_bytes": size, "parity": report})
    data = run.data()
    optional = {name: run.read_json(name) if run.file(name).is_file() else {} for name in ("timing.json", "bench.json")}
    write_report(
        run.path,
        config=run.config,
        history=run.read_json("history.json"),
        metrics=run.read_json("metrics.json"),
        data_summary={"format": data.format, "root": data.root, "counts": data.counts(), "skipped": data.skipped,
                      "examples": {split: len(examples) for split, examples in data.splits.items()},
                      "warnings": data.warnings},
        timing=optional["timing.json"],
        exports=exports or None,
        bench=optional["bench.json"] or None,
    )
