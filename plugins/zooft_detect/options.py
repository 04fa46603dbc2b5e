"""The detect task's options: ``task_options`` in the run config, checked, with defaults.

Given as ``--option KEY=VALUE`` flags, ``--task-options`` text (``"score_threshold=0.3,box_loss=giou"``) or a mapping in a config
file. No TensorFlow here: options are validated before anything heavy happens.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import zooft

from .anchors import AnchorConfig, usable_strides
from .boxes import MatchConfig, NMSConfig

#: option -> (default, allowed values or a (min, max) range for numbers, help)
OPTIONS: dict[str, tuple[Any, Any, str]] = {
    "min_scale": (0.1, (0.01, 1.0), "anchor size of the finest level, fraction of the input side"),
    "max_scale": (0.9, (0.05, 1.5), "anchor size of the coarsest level"),
    "aspect_ratios": ((1.0, 2.0, 0.5), None, "anchor width/height ratios, e.g. 1:2:0.5"),
    "levels": (5, (3, 7), "feature levels: stride 8/16/32 from the backbone, then extra stride-2 layers"),
    "positive_iou": (0.5, (0.05, 1.0), "IoU at which an anchor matches an object"),
    "negative_iou": (0.4, (0.0, 1.0), "IoU below which an anchor is background"),
    "box_loss": ("smooth_l1", ("smooth_l1", "giou"), "box regression loss"),
    "class_loss": ("hard_negative", ("hard_negative", "focal"), "softmax CE with 3:1 hard negatives, or focal"),
    "neg_pos_ratio": (3.0, (0.5, 20.0), "hard negatives per positive"),
    "head": ("ssdlite", ("ssdlite", "ssd"), "separable (SSDLite) or plain 3x3 convolutions in the head"),
    "head_channels": (96, (8, 1024), "channels of the extra levels"),
    "score_threshold": (0.05, (0.0, 1.0), "NMS: minimum class score"),
    "iou_threshold": (0.5, (0.0, 1.0), "NMS: overlap above which the weaker box is dropped"),
    "max_detections": (100, (1, 1000), "NMS: detections per image"),
    "max_per_class": (100, (1, 1000), "NMS: detections per class and image"),
    "nms": ("per_class", ("per_class", "agnostic"), "NMS per class, or one NMS over all classes"),
    "resize": ("plain", ("plain", "letterbox"), "stretch to the input size, or keep the aspect ratio and pad"),
    "draw_threshold": (0.3, (0.0, 1.0), "predict --draw: minimum score of a drawn box"),
    "difficult": ("keep", ("keep", "ignore"), "training on VOC 'difficult' objects: keep them as objects, or ignore regions"),
}

#: Augmentations of the detect pipeline (``--augment``): all box-aware.
AUGMENTS = ("flip", "crop", "zoom_out", "photometric")
DEFAULT_AUGMENTS = AUGMENTS


def _parse_text(text: str) -> dict[str, Any]:
    import yaml

    result: dict[str, Any] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, raw = part.partition("=")
        if not sep:
            raise zooft.ConfigError(f"task option {part!r} has no value", hint="write key=value, e.g. score_threshold=0.3")
        raw = raw.strip()
        # YAML 1.1 reads "1:2" as a base-60 number: lists written with ':' stay text
        result[key.strip()] = raw if ":" in raw else yaml.safe_load(raw)
    return result


def _check(key: str, value: Any) -> Any:
    default, allowed, text = OPTIONS[key]
    bad = zooft.ConfigError(f"task option {key}={value!r} is not valid", hint=f"{key}: {text}; allowed {allowed or 'ratios like 1:2:0.5'}")
    if key == "aspect_ratios":
        parts = str(value).replace(":", " ").split() if isinstance(value, (str, int, float)) else list(value)
        try:
            ratios = tuple(float(p) for p in parts)
        except (TypeError, ValueError):
            raise bad from None
        if not ratios or any(not 0.05 <= r <= 20 for r in ratios):
            raise bad
        return ratios
    if isinstance(allowed, tuple) and allowed and isinstance(allowed[0], str):
        if str(value) not in allowed:
            raise bad
        return str(value)
    try:
        number = type(default)(value)
    except (TypeError, ValueError):
        raise bad from None
    if isinstance(value, bool) or isinstance(default, int) and float(value) != number or not allowed[0] <= number <= allowed[1]:
        raise bad
    return number


@dataclass(frozen=True)
class DetectOptions:
    """Resolved options; build the anchor, matching and NMS settings from them."""

    values: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def anchors(self, image_size: tuple[int, int]) -> AnchorConfig:
        """The anchor layout at ``image_size``."""
        strides = usable_strides(image_size, [8 * 2**i for i in range(self["levels"])])
        return AnchorConfig(
            image_size=(int(image_size[0]), int(image_size[1])),
            strides=strides,
            min_scale=self["min_scale"],
            max_scale=self["max_scale"],
            aspect_ratios=tuple(self["aspect_ratios"]),
        )

    def matching(self) -> MatchConfig:
        """Anchor matching thresholds."""
        return MatchConfig(positive=self["positive_iou"], negative=self["negative_iou"])

    def nms(self) -> NMSConfig:
        """Post-processing settings."""
        return NMSConfig(
            score_threshold=self["score_threshold"],
            iou_threshold=self["iou_threshold"],
            max_detections=self["max_detections"],
            max_per_class=self["max_per_class"],
            mode=self["nms"],
        )


def resolve_options(config: Mapping[str, Any] | None) -> DetectOptions:
    """Defaults overridden by ``config["task_options"]``; unknown keys fail with suggestions."""
    given = (config or {}).get("task_options") or {}
    if isinstance(given, str):
        given = _parse_text(given)
    if not isinstance(given, Mapping):
        raise zooft.ConfigError(f"task_options must be key=value text or a mapping, got {type(given).__name__}")
    values = {key: spec[0] for key, spec in OPTIONS.items()}
    for key, value in given.items():
        if key not in OPTIONS:
            close = difflib.get_close_matches(str(key), list(OPTIONS), n=1)
            raise zooft.ConfigError(
                f"unknown detect task option {key!r}",
                hint=f"did you mean {close[0]!r}?" if close else f"known: {', '.join(OPTIONS)}",
            )
        values[key] = _check(key, value)
    if values["negative_iou"] > values["positive_iou"]:
        raise zooft.ConfigError(
            f"negative_iou {values['negative_iou']} is above positive_iou {values['positive_iou']}",
            hint="negative_iou <= positive_iou (anchors in between are ignored)",
        )
    if values["min_scale"] >= values["max_scale"]:
        raise zooft.ConfigError("min_scale must be below max_scale", hint="e.g. min_scale=0.1,max_scale=0.9")
    return DetectOptions(values)


def parse_augment(value: Any) -> tuple[str, ...]:
    """``--augment`` for detection: ``default`` or ``auto`` (all; ``auto:SPEC`` is SPEC), ``none``, or e.g. ``flip,crop``."""
    if value is None or str(value).strip().lower() in ("", "none", "off", "false", "no", "0"):
        return ()
    text = str(value).strip().lower()
    if text == "auto" or text.startswith("auto:"):  # the host's auto setting: its SPEC, else the default
        text = text.partition(":")[2].strip() or "default"
        if text in ("none", "off"):
            return ()
    if text == "default":
        return DEFAULT_AUGMENTS
    chosen = []
    for part in (p.strip() for p in text.split(",")):
        name = part.partition("=")[0].strip()
        if not name:
            continue
        if name not in AUGMENTS:
            close = difflib.get_close_matches(name, AUGMENTS, n=1)
            raise zooft.ConfigError(
                f"unknown detection augmentation {name!r}",
                hint=(f"did you mean {close[0]!r}? " if close else "") + f"detection takes: {', '.join(AUGMENTS)}, default or none",
            )
        chosen.append(name)
    return tuple(dict.fromkeys(chosen))
