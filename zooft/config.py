"""The tune configuration: every key, its type, its default, and the precedence rule.

Precedence, independent of argument order: built-in defaults < the registry entry's
``defaults`` < the config file (``--config FILE``, YAML or JSON) < command-line flags. Each
resolved value remembers where it came from, and ``config.json`` in the run records both.
Unknown keys fail with the closest known key.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError


def _choice(*allowed: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = str(value).lower()
        if text not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return text

    return check


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError("expected a whole number") from None


def _positive_int(value: Any) -> int:
    number = _as_int(value)
    if isinstance(value, bool) or number <= 0 or float(value) != number:
        raise ValueError("expected a positive integer")
    return number


def _non_negative_int(value: Any) -> int:
    number = _as_int(value)
    if isinstance(value, bool) or number < 0 or float(value) != number:
        raise ValueError("expected an integer ≥ 0")
    return number


#: ``epochs`` / ``fine_tune_epochs`` value for the automatic schedule (zooft/train/schedule.py).
AUTO = "auto"
#: Epoch budget of an auto phase that runs the backbone (``--max-epochs``). 4, not 5: on two
#: held-out sets over 3 seeds the fifth fine-tuning epoch cost 4-10 % of the run's wall time
#: and gained nothing (BENCHMARKS.md, "Defaults (issue 17) on the retrained embedded model").
DEFAULT_MAX_EPOCHS = 4


def _auto_or(check: Callable[[Any], Any], expected: str) -> Callable[[Any], Any]:
    """A checker that takes ``auto`` or whatever ``check`` takes; other values fail with ``expected``."""

    def checked(value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() == AUTO:
            return AUTO
        try:
            return check(value)
        except (TypeError, ValueError):
            raise ValueError(expected) from None

    return checked


#: A number of epochs (≥ 0) or ``auto`` (train until validation stops improving).
_epochs = _auto_or(_non_negative_int, "expected a number of epochs (0, 1, 2 …) or 'auto'")


def _non_negative_float(value: Any) -> float:
    number = float(value)
    if not number >= 0:  # NaN fails too
        raise ValueError("expected a number ≥ 0")
    return number


#: A warm-up length in epochs (≥ 0, fractions allowed) or ``auto`` (zooft/train/optim.py).
_warmup = _auto_or(_non_negative_float, "expected a number of epochs (0, 0.5, 1 …) or 'auto'")


def _positive_float(value: Any) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError("expected a number > 0")
    return number


def _fraction(value: Any) -> float:
    number = float(value)
    if not 0 <= number < 1:
        raise ValueError("expected a number in [0, 1)")
    return number


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def wrapped(value: Any) -> Any:
        return None if value is None or str(value).lower() in ("none", "") else check(value)

    return wrapped


#: The smallest and largest image side ``--image-size`` accepts: below 16 pixels no backbone
#: has a spatial feature map left (and 1x1 images train without a word); above 8192 one image
#: alone takes 800 MB as float32.
MIN_IMAGE_SIDE, MAX_IMAGE_SIDE = 16, 8192

#: Seeds go to NumPy, Python and TensorFlow; NumPy takes 0 <= seed < 2**32.
MAX_SEED = 2**32 - 1


def _side(value: Any) -> int:
    side = _positive_int(value)
    if not MIN_IMAGE_SIDE <= side <= MAX_IMAGE_SIDE:
        raise ValueError(f"each side must be between {MIN_IMAGE_SIDE} and {MAX_IMAGE_SIDE} pixels")
    return side


def _image_size(value: Any) -> list[int] | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return [_side(value[0]), _side(value[1])]
    text = str(value).lower().replace("x", ",")
    parts = [p for p in text.split(",") if p.strip()]
    if len(parts) == 1:
        size = _side(parts[0])
        return [size, size]
    if len(parts) == 2:
        return [_side(parts[0]), _side(parts[1])]
    raise ValueError("expected N or HxW, e.g. 96 or 128x160")


def _seed(value: Any) -> int:
    number = _as_int(value)
    if isinstance(value, bool) or float(value) != number or not 0 <= number <= MAX_SEED:
        raise ValueError(f"expected a whole number from 0 to {MAX_SEED}")
    return number


def _unfreeze(value: Any) -> int | str:
    if str(value).lower() == "all":
        return "all"
    try:
        return _non_negative_int(value)
    except ValueError:
        raise ValueError("expected a number of layer groups (0, 1, 2 …) or 'all'") from None


def _str_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    return [str(v) for v in value]


def _task_options(value: Any) -> dict[str, Any]:
    """Task-specific options: a mapping (config file) or ``key=value,key=value`` text; the task
    validates the keys themselves."""
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    result: dict[str, Any] = {}
    for part in (p.strip() for p in str(value).split(",")):
        if not part:
            continue
        key, sep, raw = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected key=value pairs, got {part!r}")
        result[key.strip()] = scalar(raw.strip())
    return result


def scalar(text: str) -> Any:
    """A YAML scalar from option text (``0.3`` -> 0.3, ``true`` -> True), for tasks that take
    ``task_options`` without declaring them; declared options are parsed by their type instead."""
    import yaml

    # YAML 1.1 reads "1:2" as a base-60 number: lists written with ':' stay text
    if ":" in text:
        return text
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


#: Config-file words for true and false (flags, and switches with richer values).
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def _image_cache(value: Any) -> str | None:
    """``auto``, ``memory``, a path prefix, or None (off: also ``none``/``false``…)."""
    if value is None or value is False:
        return None
    text = str(value).strip()
    word = text.lower()
    if word in ("", "none", *FALSE_WORDS):
        return None
    return word if word in ("auto", "memory") else text


#: ``feature_cache`` values: auto (memory or disk by size), memory, disk, off.
FEATURE_CACHE_MODES = ("auto", "memory", "disk", "off")


def parse_feature_cache(value: Any) -> str:
    """Booleans and on/off words map to auto/off (``--no-feature-cache`` gives False)."""
    if value is None or value is True:
        return "auto"
    if value is False:
        return "off"
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return "auto"
    if text in ("none", *FALSE_WORDS):
        return "off"
    if text not in FEATURE_CACHE_MODES:
        raise ValueError(f"expected one of {', '.join(FEATURE_CACHE_MODES)}")
    return text


def parse_flag(value: Any) -> bool:
    """A bool from a bool or a config-file string (``"false"`` must not be truthy)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError("expected true or false")


@dataclass(frozen=True)
class Key:
    """One configuration key: its parser (which raises ValueError on bad values) and default."""

    parse: Callable[[Any], Any]
    default: Any
    help: str


TUNE_KEYS: dict[str, Key] = {
    "backbone": Key(_optional_str, None, "registry name or source:locator of the pretrained model"),
    "task": Key(_optional_str, "classify", "task plugin name"),
    "data": Key(_optional_str, None, "training data (folder, CSV …)"),
    "val_data": Key(_optional_str, None, "separate validation data"),
    "test_data": Key(_optional_str, None, "separate test data for the final evaluation"),
    "data_format": Key(_optional_str, None, "force a data format instead of sniffing"),
    "data_options": Key(_task_options, {}, "the data format's own options, e.g. images=DIR (coco), difficult=ignore (voc)"),
    "val_split": Key(_fraction, 0.15, "validation fraction carved from train when none is given"),
    "skip_bad_files": Key(bool, False, "drop unreadable files instead of failing"),
    "image_size": Key(_image_size, None, "input size; default: the model's native size"),
    "batch_size": Key(_positive_int, 32, "batch size (global, across replicas)"),
    "epochs": Key(_epochs, AUTO, "epochs of phase 1 (head only, backbone frozen), or auto: until val_loss stops improving"),
    "fine_tune_epochs": Key(_epochs, AUTO, "epochs of phase 2 (top layer groups unfrozen), or auto: early stopping, best weights restored"),
    "max_epochs": Key(_positive_int, DEFAULT_MAX_EPOCHS, "epoch budget of each auto phase that runs the backbone (a head on cached features may run 10x)"),
    "unfreeze": Key(_unfreeze, "all", "layer groups to unfreeze in phase 2: N or all"),
    "lr": Key(_positive_float, 1e-3, "learning rate of phase 1"),
    "fine_tune_lr": Key(_optional(_positive_float), None, "learning rate of phase 2 (default lr × factor)"),
    "fine_tune_lr_factor": Key(_positive_float, 0.1, "phase-2 learning rate = lr × this factor"),
    "optimizer": Key(_choice("adam", "adamw", "sgd"), "adam", "optimizer"),
    "weight_decay": Key(float, 1e-4, "weight decay (adamw)"),
    "momentum": Key(float, 0.9, "momentum (sgd)"),
    "schedule": Key(_choice("auto", "cosine", "constant"), "auto",
                    "learning-rate schedule per phase: auto (constant while only the head trains, cosine once the backbone trains), cosine, constant"),
    "warmup_epochs": Key(_warmup, AUTO, "linear warm-up at the start of each phase, in epochs, or auto: "
                         "1 epoch once backbone weights train, none for the head alone"),
    "clipnorm": Key(_optional(_positive_float), None, "gradient clipping by norm"),
    "label_smoothing": Key(_fraction, 0.0, "label smoothing"),
    "class_weight": Key(_optional(_choice("balanced")), None, "balanced: weight classes by inverse frequency"),
    "dropout": Key(_fraction, 0.2, "dropout before the head"),
    "augment": Key(_optional_str, "auto", "augmentation: auto (none for image classification, measured best; auto:SPEC augments "
                   "only where images go through a training backbone), default, none, or e.g. flip,zoom=0.1,rotation=0.05"),
    "precision": Key(_choice("auto", "float32", "mixed_float16", "mixed_bfloat16"), "auto", "precision policy"),
    "strategy": Key(_choice("auto", "default", "mirrored", "multiworker", "tpu"), "auto", "distribution strategy"),
    "early_stopping": Key(_non_negative_int, 0, "patience in epochs on val_loss (0: off); best weights restored"),
    "seed": Key(_seed, 0, "random seed, 0 to 2**32-1"),
    "top_k": Key(_positive_int, 5, "k of the top-k accuracy metric"),
    "cache": Key(_image_cache, "auto", "cache decoded images: auto (in memory while they fit), memory, a file path prefix, or off"),
    "feature_cache": Key(parse_feature_cache, "auto", "train the head on backbone features computed once: auto, memory, disk, off"),
    "output": Key(_optional_str, None, "run directory (default runs/<model>-<task>-<time>)"),
    "export": Key(_str_list, [], "formats to export after training, e.g. savedmodel, tflite:int8, onnx"),
    "weights": Key(_choice("pretrained", "none"), "pretrained", "start from pretrained weights or random"),
    "task_options": Key(_task_options, {}, "the task's own options (--option KEY=VALUE; 'zooft plugins --json' lists them)"),
}

#: Keys that used to be host settings and are now the ``text-classify`` task's options: written
#: at the top of a config file (or as the old flags) they still work and land in task_options.
TASK_OPTION_ALIASES = ("sequence_length", "text_column", "label_column", "multi_label", "thresholds")


def fold_task_option_aliases(layer: Mapping[str, Any]) -> dict[str, Any]:
    """``layer`` with alias keys (``multi_label: true``) moved into its ``task_options``."""
    layer = dict(layer)
    moved = {k: layer.pop(k) for k in TASK_OPTION_ALIASES if k in layer}
    moved = {k: v for k, v in moved.items() if v is not None}
    if moved:
        try:
            given = _task_options(layer.get("task_options"))
        except ValueError as exc:
            raise ConfigError(f"invalid task_options: {exc}", hint="task_options: a mapping, or key=value,key=value") from None
        layer["task_options"] = {**given, **moved}
    return layer


def _bad_key(key: str, where: str) -> ConfigError:
    close = difflib.get_close_matches(key, list(TUNE_KEYS), n=1)
    return ConfigError(
        f"unknown config key {key!r} in {where}",
        hint=f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(TUNE_KEYS)}",
    )


def parse_value(key: str, value: Any, where: str) -> Any:
    """Validate one value, raising a ConfigError that names the key, the value and the source."""
    if key not in TUNE_KEYS:
        raise _bad_key(key, where)
    try:
        return TUNE_KEYS[key].parse(value)
    except (TypeError, ValueError) as exc:
        flag = "--" + key.replace("_", "-")
        raise ConfigError(f"invalid value {value!r} for {flag} ({where}): {exc}", hint=TUNE_KEYS[key].help) from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON config file of tune keys (dashes or underscores); a key given
    twice (also as ``fine-tune-epochs`` and ``fine_tune_epochs``) is refused."""
    from .safe_yaml import load_yaml_file

    # bounded and strict like registry files (zooft/safe_yaml.py): regular file, size cap,
    # UTF-8, no aliases, no duplicate keys (YAML and JSON); every error names the file
    doc = load_yaml_file(path, ConfigError, what="config file", hint="check the --config path")
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        raise ConfigError(f"config file {path} must hold a mapping of keys, got {type(doc).__name__}", hint="e.g. 'epochs: 5'")
    values: dict[str, Any] = {}
    for key, value in doc.items():
        name = str(key).replace("-", "_")
        if name in values:
            raise ConfigError(f"config file {path}: key {name!r} is given twice (as dashes and underscores)",
                              hint="keep one of them")
        values[name] = value
    return values


@dataclass
class ResolvedConfig:
    """Resolved values plus, for each key, which layer set it."""

    values: dict[str, Any]
    sources: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        """What ``config.json`` holds."""
        return {"values": self.values, "sources": self.sources}


def resolve(
    *,
    flags: Mapping[str, Any],
    file_values: Mapping[str, Any] | None = None,
    file_name: str = "config file",
    entry_defaults: Mapping[str, Any] | None = None,
) -> ResolvedConfig:
    """Merge defaults < registry entry < config file < flags (flags whose value is ``None`` are unset)."""
    values = {key: spec.default for key, spec in TUNE_KEYS.items()}
    sources = dict.fromkeys(TUNE_KEYS, "default")
    layers = [
        ("registry entry", entry_defaults or {}),
        (file_name, file_values or {}),
        ("command line", {k: v for k, v in flags.items() if v is not None and v != []}),
    ]
    for where, layer in layers:
        for key, value in fold_task_option_aliases(layer).items():
            parsed = parse_value(key, value, where)
            if key == "task_options":  # merged key by key: a flag changes one option, not all
                parsed = {**values["task_options"], **parsed}
            values[key] = parsed
            sources[key] = where
    if values["epochs"] != AUTO and sources["fine_tune_epochs"] == "default":
        # "--epochs 3" keeps the meaning it always had: three head epochs and no fine-tuning
        values["fine_tune_epochs"] = 0
        sources["fine_tune_epochs"] = f"default (0 when --epochs is a number; set by {sources['epochs']})"
    return ResolvedConfig(values, sources)
