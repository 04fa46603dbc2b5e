"""The data types plugins register and the host passes around.

All of them are plain frozen dataclasses so that importing this module costs nothing and
never imports TensorFlow: plugins register *metadata plus a factory*, and the factory
imports TensorFlow only when it is called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .options import Option


@dataclass(frozen=True)
class WeightsSpec:
    """Where a registry entry's pretrained weights come from.

    ``kind`` is ``"none"`` (random init), ``"builtin"`` (the source plugin knows how to fetch
    them, e.g. Keras's ``"imagenet"``), ``"url"`` (downloaded into zooft's cache) or
    ``"file"`` (a path, relative paths resolved against the registry file that named it).
    """

    kind: str
    location: str | None = None
    sha256: str | None = None

    @property
    def label(self) -> str:
        """A short human description for tables."""
        if self.kind == "none":
            return "none"
        if self.kind == "builtin":
            return self.location or "builtin"
        return f"{self.kind}{' ✓sha256' if self.sha256 else ''}"


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the model zoo, keyed ``source:name``.

    ``locator`` is what the source plugin understands (a Keras application class name, a hub
    handle, a preset); ``options`` are extra keyword arguments for its factory (e.g.
    ``alpha``). ``input_size`` is ``(height, width)`` or ``None`` for text models.
    ``preprocessing`` describes how raw inputs become what the network expects; the backbone
    puts it inside the graph so that exports take raw inputs.
    """

    name: str
    source: str
    locator: str
    weights: WeightsSpec
    modality: str = "image"
    input_size: tuple[int, int] | None = None
    preprocessing: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    feature_layers: Mapping[str, str] = field(default_factory=dict)
    tasks: tuple[str, ...] = ()
    license: str | None = None
    params: int | None = None
    tags: tuple[str, ...] = ()
    description: str = ""
    aliases: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    origin: str = ""

    @property
    def short_name(self) -> str:
        """The part after ``source:``."""
        return self.name.split(":", 1)[1]

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ModelSpec:
        """The inverse of :meth:`to_dict` (used to reopen a run with the spec it started with)."""
        weights = doc.get("weights") or {"kind": "none"}
        size = doc.get("input_size")
        return cls(
            name=doc["name"],
            source=doc["source"],
            locator=doc["locator"],
            weights=WeightsSpec(weights["kind"], weights.get("location"), weights.get("sha256")),
            modality=doc.get("modality", "image"),
            input_size=(int(size[0]), int(size[1])) if size else None,
            preprocessing=dict(doc.get("preprocessing") or {}),
            options=dict(doc.get("options") or {}),
            feature_layers=dict(doc.get("feature_layers") or {}),
            tasks=tuple(doc.get("tasks") or ()),
            license=doc.get("license"),
            params=doc.get("params"),
            tags=tuple(doc.get("tags") or ()),
            description=doc.get("description", ""),
            aliases=tuple(doc.get("aliases") or ()),
            defaults=dict(doc.get("defaults") or {}),
            origin=doc.get("origin", ""),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view, as printed by ``zooft info --json``."""
        return {
            "name": self.name,
            "source": self.source,
            "locator": self.locator,
            "modality": self.modality,
            "input_size": list(self.input_size) if self.input_size else None,
            "weights": {
                "kind": self.weights.kind,
                "location": self.weights.location,
                "sha256": self.weights.sha256,
            },
            "preprocessing": dict(self.preprocessing),
            "options": dict(self.options),
            "feature_layers": dict(self.feature_layers),
            "tasks": list(self.tasks),
            "license": self.license,
            "params": self.params,
            "tags": list(self.tags),
            "description": self.description,
            "aliases": list(self.aliases),
            "defaults": dict(self.defaults),
            "origin": self.origin,
        }


@dataclass(frozen=True)
class BackboneSource:
    """A backbone source registered by a plugin (``keras``, ``hub``, ``bert`` …).

    ``factory(spec, **kwargs)`` turns a :class:`ModelSpec` of this source into a
    :class:`zooft.backbone.Backbone`; it imports TensorFlow when called. ``resolve`` is an
    optional hook for ad-hoc names (``hub:https://…``) that are not in the registry: given
    the text after ``source:``, it returns a ModelSpec or ``None``. ``fetch`` optionally
    pre-downloads a spec's weights into the cache (used by ``zooft pull``).
    ``custom_objects()`` returns the Keras classes needed to load a saved model that
    contains this source's layers (for ``keras.saving.load_model``).
    """

    name: str
    factory: Callable[..., Any]
    description: str = ""
    modalities: tuple[str, ...] = ("image",)
    resolve: Callable[[str], ModelSpec | None] | None = None
    fetch: Callable[..., Any] | None = None
    custom_objects: Callable[[], dict[str, Any]] | None = None
    plugin: str = ""


@dataclass(frozen=True)
class TaskInfo:
    """A task registered by a plugin (``classify``, ``detect``, ``text-classify`` …).

    ``factory()`` returns an object implementing :class:`zooft.Task`. ``modalities`` are the
    backbone modalities it takes; ``requires`` names the backbone output the head consumes:
    ``"pooled"``, ``"feature_maps"`` (the ``stride8/16/32`` maps) or ``"sequence"``; a tuple
    names several. Any backbone of a listed modality that provides them can be used (a registry
    entry's ``tasks:`` is only a hint for listing). ``options`` declares the task's own options
    (``{"name": zooft.Option(int, default=…, help=…)}``, or a sequence of allowed values), set
    with ``zooft tune --option KEY=VALUE`` and passed to the task as ``config["task_options"]``
    (defaults filled in); ``{}`` declares that it has none, ``None`` (the default) leaves them
    unchecked for the task to check itself. ``target_kind`` says what an :class:`zooft.Example` carries for it:
    ``"class"`` (``label`` is a class index), ``"classes"`` (a tuple of indices), ``"boxes"``
    (``target`` holds annotations) or ``"value"`` (``target`` holds numbers; no classes).
    ``geometric_augmentation=False`` makes the image pipeline skip flips, crops, zooms and
    rotations, which would corrupt targets tied to the geometry (e.g. a regressed angle).
    """

    name: str
    factory: Callable[[], Any]
    modalities: tuple[str, ...] = ("image",)
    requires: str | tuple[str, ...] = "pooled"
    description: str = ""
    custom_objects: Callable[[], dict[str, Any]] | None = None
    options: Mapping[str, Option | Sequence[str] | None] | None = None
    target_kind: str = "class"
    geometric_augmentation: bool = True
    plugin: str = ""


@dataclass(frozen=True)
class ExporterInfo:
    """An export format registered by a plugin (``savedmodel``, ``tflite``, ``onnx`` …).

    ``options`` maps each option name to a :class:`zooft.Option`, or to its allowed values
    (``{"quantize": ("none", …)}``, the first being the default), or to ``None`` for free-form
    text; users set them with ``zooft export --option KEY=VALUE``. ``factory()`` returns an
    object implementing :class:`zooft.Exporter`. ``load(path)`` (optional) opens an artifact
    this format wrote (the directory ``exports/<name>/`` or the artifact inside it) and returns
    a :class:`zooft.Artifact`, so ``zooft predict`` and ``zooft bench`` can run it; without it
    the host's loader (TFLite, ONNX, SavedModel) is tried.
    """

    name: str
    factory: Callable[[], Any]
    options: Mapping[str, Option | Sequence[str] | None] = field(default_factory=dict)
    description: str = ""
    extension: str = ""
    load: Callable[[Any], Any] | None = None
    plugin: str = ""


@dataclass(frozen=True)
class DatasetFormat:
    """A data format registered by a plugin (image folders, CSV, COCO JSON …).

    ``sniff(path)`` must be cheap and TensorFlow-free: it says whether ``path`` looks like this
    format. ``load(path, **options)`` returns a :class:`zooft.data.records.LabeledData`
    index (paths or texts plus labels), never the pixels: the training core streams them.

    ``options`` declares the format's own options (``{name: help}``), which users give as
    ``data_options`` (``--data-options images=DIR`` or a mapping in a config file); the host
    refuses names the chosen format does not declare and passes the rest to ``load`` as keyword
    arguments. ``description`` says what the data looks like: it is the hint of data errors.
    """

    name: str
    sniff: Callable[[str], bool]
    load: Callable[..., Any]
    modalities: tuple[str, ...] = ("image",)
    tasks: tuple[str, ...] = ("classify",)
    description: str = ""
    plugin: str = ""
    options: Mapping[str, str] = field(default_factory=dict)
