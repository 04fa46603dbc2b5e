"""Every hook a zooft plugin can implement. This file is the contract.

A plugin is any module or object exposed in the ``zooft`` entry-point group whose functions
are decorated with :data:`zooft.hookimpl` and named after a hook below. As with pluggy and
pytest, an implementation may accept any subset of a hook's arguments, so hooks only ever
*gain* arguments; renaming or removing one would break plugins and is not done.

Registration hooks receive a ``register`` callback. Call it once per thing you provide, with
the dataclass from :mod:`zooft` (``BackboneSource``, ``TaskInfo``, ``ExporterInfo``,
``DatasetFormat``). The host records which plugin registered what, rejects duplicate
names (naming both plugins), and orders listings. Never import TensorFlow at module level
or inside a hook: put heavy imports inside the factories you register.

Example (a complete third-party plugin)::

    import zooft

    def build(spec, **kwargs):
        import keras
        ...
        return zooft.Backbone(...)

    @zooft.hookimpl
    def zooft_register_backbones(register):
        register(zooft.BackboneSource(name="mysrc", factory=build, description="My nets"))

    @zooft.hookimpl
    def zooft_registry_files():
        return [pathlib.Path(__file__).with_name("models.yaml")]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from os import PathLike

import pluggy

from .specs import BackboneSource, DatasetFormat, ExporterInfo, TaskInfo

hookspec = pluggy.HookspecMarker("zooft")


@hookspec
def zooft_register_backbones(register: Callable[[BackboneSource], None]) -> None:
    """Register backbone sources.

    :param register: call ``register(BackboneSource(name=..., factory=...))`` once per source.
        ``name`` is the prefix of registry keys (``keras`` in ``keras:mobilenet_v2``).

    The factory is called as ``factory(spec, **options)`` with a :class:`zooft.ModelSpec` of
    this source and returns a :class:`zooft.Backbone`: a Keras model from raw inputs (uint8
    or float 0–255 images, or strings) to features, with the preprocessing inside the graph,
    exposing a pooled vector and, where the architecture has them, feature maps named
    ``stride8``, ``stride16`` and ``stride32`` (for detection), and its layers grouped from
    input to output for gradual unfreezing. Options the factory receives: ``input_size``
    (``(h, w)``, overriding the spec's), ``weights`` (``"pretrained"`` or ``"none"``),
    ``offline`` (bool: never touch the network), ``cache_dir`` (zooft's cache root) and, for
    text backbones, ``sequence_length`` (tokens per text, ``None`` for the source's default).
    Missing weights while offline must raise :class:`zooft.OfflineError` naming the fix.

    Returns nothing; the return value is ignored.
    """


@hookspec
def zooft_register_tasks(register: Callable[[TaskInfo], None]) -> None:
    """Register tasks.

    :param register: call ``register(TaskInfo(name=..., factory=...))`` once per task.

    ``TaskInfo.factory()`` returns an object following :class:`zooft.Task`: it builds the head
    on the backbone output named by ``TaskInfo.requires``, chooses loss and metrics, turns
    dataset records into model targets, evaluates (e.g. accuracy and a confusion matrix, or
    COCO mAP) and post-processes raw outputs for ``zooft predict``. ``TaskInfo`` also declares
    the backbone modalities and outputs the task needs (any backbone providing them can be
    used), its options (``--option KEY=VALUE``), its ``target_kind`` and whether geometric
    augmentation is safe for its targets.

    Returns nothing; the return value is ignored.
    """


@hookspec
def zooft_register_exporters(register: Callable[[ExporterInfo], None]) -> None:
    """Register export formats.

    :param register: call ``register(ExporterInfo(name=..., factory=..., options=...))`` once
        per format.

    ``ExporterInfo.factory()`` returns an object following :class:`zooft.Exporter`: it writes
    the artifact into a directory it is given (the host makes the write atomic), reloads it in
    the format's own runtime, and returns a parity report against the trained Keras model.
    The host turns a failed parity check into an error; exporters never only warn.
    ``ExporterInfo.options`` declares the format's options (``--option KEY=VALUE``) and
    ``ExporterInfo.load`` (optional) opens the format's artifacts as a :class:`zooft.Artifact`
    for ``zooft predict`` and ``zooft bench``.

    Returns nothing; the return value is ignored.
    """


@hookspec
def zooft_register_datasets(register: Callable[[DatasetFormat], None]) -> None:
    """Register data formats.

    :param register: call ``register(DatasetFormat(name=..., sniff=..., load=...))`` once per
        format.

    ``sniff(path) -> bool`` must be fast and must not import TensorFlow: the host calls every
    format's sniff to pick the one that fits ``--data PATH`` (unless ``--data-format`` names
    one). ``load(path, **options)`` returns a :class:`zooft.LabeledData` index of the
    examples (file paths or texts with labels or targets), never the decoded data. ``options``
    carry ``skip_bad_files`` and the task's options (for ``text-classify``: ``text_column``,
    ``label_column``, ``multi_label`` …); a format ignores the ones it does not use.

    Returns nothing; the return value is ignored.
    """


@hookspec
def zooft_registry_files() -> Iterable[str | PathLike[str]]:
    """Return paths of extra registry YAML files this plugin ships.

    They are merged after zooft's packaged ``registry.yaml`` and before user files
    (``--registry FILE``, ``ZOOFT_REGISTRY``). An entry that reuses an existing name is an
    error naming both files, unless it sets ``override: true``. Relative weight paths inside
    a file are resolved against that file's directory.

    :return: an iterable of paths (``str`` or ``os.PathLike``); missing files are reported as
        this plugin's load error.
    """
