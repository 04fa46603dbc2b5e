"""From ``--data PATH`` to a checked, split :class:`LabeledData` index (no TensorFlow).

The steps of :func:`load_data`: pick the data format (by name, or the one whose ``sniff``
recognises the path), let its plugin index the files, map labels onto a finished run's
classes when evaluating, run the data check, and carve a seeded stratified validation split
when the data has none.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DataError
from ..specs import DatasetFormat
from .check import check_classes, check_images
from .records import Example, LabeledData
from .split import stratified_split

if TYPE_CHECKING:
    from ..plugins import PluginHost

__all__ = ["choose_format", "load_data"]

#: Options the host itself passes to every format's ``load`` (formats ignore the ones they do not use).
HOST_OPTIONS = ("text_column", "label_column", "multi_label", "skip_bad_files")


def _formats_for(host: PluginHost, task: str) -> list[DatasetFormat]:
    return [fmt for _, fmt in sorted(host.items["datasets"].items()) if task in fmt.tasks]


def data_hint(host: PluginHost, task: str, fmt: DatasetFormat | None = None) -> str:
    """What data for ``task`` looks like, from the formats' own descriptions (one line).

    With ``fmt``, that format's description; otherwise every installed format serving the
    task, so that detection data errors describe COCO / VOC / TFRecord, not class folders.
    """
    chosen = [fmt] if fmt is not None else _formats_for(host, task)
    described = [f"{f.name}: {f.description}" if f.description else f.name for f in chosen]
    if not described:
        return f"install a plugin that provides {task!r} data (zooft plugins lists them)"
    return "pass " + ("data in this layout: " if len(described) == 1 else "one of: ") + " | ".join(described)


def _check_options(fmt: DatasetFormat, options: dict[str, Any]) -> dict[str, Any]:
    """Refuse data options the chosen format does not declare (with the closest name)."""
    declared = dict(fmt.options or {})
    for key in options:
        if key in declared or key in HOST_OPTIONS:
            continue
        close = difflib.get_close_matches(key, list(declared), n=1)
        known = ", ".join(f"{k} ({v})" for k, v in declared.items()) or "none"
        raise ConfigError(
            f"data format {fmt.name!r} has no option {key!r}",
            hint=f"did you mean {close[0]!r}?" if close else f"its options: {known}",
        )
    return options


def choose_format(path: str, *, host: PluginHost, task: str = "classify", name: str | None = None) -> DatasetFormat:
    """The data format to read ``path`` with: ``name`` if given, else the one whose sniff says yes.

    Raises :class:`zooft.DataError` when no format (or more than one) recognises the path, and
    :class:`zooft.PluginError` for an unknown ``name``.
    """
    if name:
        fmt = host.dataset_format(name)
        if task not in fmt.tasks:
            raise DataError(
                f"data format {name!r} does not provide {task!r} data (it serves {', '.join(fmt.tasks)})",
                hint=f"choose one of: {', '.join(f.name for f in _formats_for(host, task)) or 'none installed'}",
            )
        return fmt
    candidates = _formats_for(host, task)
    matches: list[DatasetFormat] = []
    failures: list[str] = []
    for fmt in candidates:
        try:
            if fmt.sniff(path):
                matches.append(fmt)
        except Exception as exc:  # one plugin's broken sniff must not hide the other formats
            failures.append(f"{fmt.name} (plugin {fmt.plugin}) failed to sniff: {type(exc).__name__}: {exc}")
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(f.name for f in candidates) or "none installed"
    if matches:
        names = ", ".join(f.name for f in matches)
        raise DataError(
            f"{path} looks like several data formats: {names}",
            hint=f"name one with --data-format (one of {names})",
        )
    detail = f"; {'; '.join(failures)}" if failures else ""
    raise DataError(
        f"no {task} data format recognises {path} (known formats: {known}){detail}",
        hint=f"{data_hint(host, task)}; or name the format with --data-format",
    )


def _map_classes(data: LabeledData, class_names: list[str]) -> LabeledData:
    """Re-index ``data``'s labels onto ``class_names`` (a finished run's classes)."""
    index = {name: i for i, name in enumerate(class_names)}
    unknown = [name for name in data.classes if name not in index]
    if unknown:
        close = {name: difflib.get_close_matches(name, class_names, n=1) for name in unknown}
        shown = ", ".join(f"{n!r}" + (f" (did you mean {c[0]!r}?)" if c else "") for n, c in close.items())
        raise DataError(
            f"the data at {data.root} has labels the model was not trained on: {shown}",
            hint=f"the model knows: {', '.join(class_names)}; rename or remove the others",
        )
    remap = [index[name] for name in data.classes]

    def relabel(ex: Example) -> Example:
        if isinstance(ex.label, int):
            return replace(ex, label=remap[ex.label])
        if isinstance(ex.label, tuple):  # multi-label, or the classes present in a detection image
            ex = replace(ex, label=tuple(sorted(remap[i] for i in ex.label)))
        if ex.target and isinstance(ex.target.get("labels"), list):  # detection: per-object classes
            ex = replace(ex, target={**ex.target, "labels": [remap[i] for i in ex.target["labels"]]})
        return ex

    splits = {split: [relabel(ex) for ex in examples] for split, examples in data.splits.items()}
    return replace(data, classes=list(class_names), splits=splits)


def load_data(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,  # noqa: A002 - mirrors --data-format
    host: PluginHost | None = None,
    task: str = "classify",
    val_split: float = 0.15,
    seed: int = 0,
    skip_bad_files: bool = False,
    check: bool = True,
    class_names: list[str] | None = None,
    options: dict[str, Any] | None = None,
) -> LabeledData:
    """Read, check and split the data set at ``path``.

    ``format`` names a data format (``--data-format``); otherwise the format is sniffed among
    those serving ``task``. When the data has no ``val`` split, ``val_split`` of each class's
    training examples become one, chosen by ``seed`` (0 disables this). ``class_names`` (a
    finished run's classes, for evaluation) re-indexes labels onto that list; unknown labels
    raise. ``options`` are passed to the format's ``load`` as keyword arguments: the host's own
    (:data:`HOST_OPTIONS`: text columns, ``multi_label`` …; formats ignore the ones they do not
    know) and the format's declared ``DatasetFormat.options`` (``images=DIR`` …); any other
    name raises :class:`zooft.ConfigError`. ``check`` runs
    :func:`zooft.data.check.check_images` on image data; with ``skip_bad_files`` bad files are
    left out instead of failing. The class check (:func:`zooft.data.check.check_classes`) runs
    after the validation split is carved, on the splits training uses. With ``check=False`` no
    file is opened: entries the format itself could not use stay out (listed in ``skipped``),
    and a bad image fails later, inside tf.data.

    Raises :class:`zooft.DataError` for a missing path, an unrecognised or empty data set and
    the problems the check finds, and :class:`zooft.ConfigError` for a bad ``val_split``.
    """
    if not 0.0 <= val_split < 1.0:
        raise ConfigError(f"val_split must be at least 0 and below 1, got {val_split}", hint="e.g. --val-split 0.15")
    text = os.fspath(path)
    if host is None:
        from ..plugins import get_host

        host = get_host()
    if not os.path.exists(text):
        raise DataError(f"data path {text!r} does not exist", hint=data_hint(host, task))
    fmt = choose_format(text, host=host, task=task, name=format)
    # e.g. text_column, multi_label, images (zooft.train.tune.format_options)
    data = fmt.load(text, **_check_options(fmt, dict(options or {})))
    if not isinstance(data, LabeledData):
        raise DataError(
            f"data format {fmt.name!r} (plugin {fmt.plugin}) returned {type(data).__name__}, not LabeledData",
            hint=f"report this to the plugin's authors, or disable it with ZOOFT_DISABLE_PLUGINS={fmt.plugin}",
        )
    if not any(data.splits.values()):
        first = ""
        if data.skipped:
            first = f" ({len(data.skipped)} unusable entries, e.g. {data.skipped[0][0]}: {data.skipped[0][1]})"
        raise DataError(f"no examples found in {text}{first}", hint=data_hint(host, task, fmt))
    evaluating = class_names is not None
    if evaluating:
        data = _map_classes(data, list(class_names or []))
    checked = check and data.modality == "image"
    if checked:
        data = check_images(data, skip_bad_files=skip_bad_files, require_all_classes=False, find_typos=not evaluating)
    if not data.splits.get("val") and val_split > 0 and data.splits.get("train"):
        train, val = stratified_split(data.splits["train"], val_split, seed=seed, classes=data.classes)
        rest = {split: examples for split, examples in data.splits.items() if split not in ("train", "val")}
        data = replace(data, splits={"train": train, "val": val, **rest})
    if checked and not evaluating:
        # on the splits training uses: after carving, a class may have no training example left;
        # evaluation data need not hold every class (its labels were checked against the run's)
        data = check_classes(data, skipped_files=bool(data.skipped))
    return data
