"""Where a ``keras`` registry entry's weights come from, and getting them into zooft's cache.

TensorFlow-free on purpose: ``zooft pull`` and ``zooft info`` use it without importing Keras.

ImageNet weights are the files Keras's own application constructors would download (the
``*_notop.h5`` variants, since backbones never include the classifier). zooft fetches them
itself into ``<cache root>/keras/<file name>`` and hands the local path to Keras, so offline
behaviour, atomic writes and hash checks are zooft's, not Keras's (whose cache lives in
``~/.keras`` and has no offline mode). The table below mirrors the file names, URLs and hashes
in ``keras/src/applications/*.py``; an integration test compares it with what Keras requests.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zooft

_TF = "https://storage.googleapis.com/tensorflow/keras-applications/"
_OLD = "https://storage.googleapis.com/keras-applications/"


def _std(folder: str, stem: str, file_hash: str) -> tuple[str, str, str]:
    name = f"{stem}_weights_tf_dim_ordering_tf_kernels_notop.h5"
    return name, f"{_TF}{folder}/{name}", file_hash


# locator -> (file name, URL, hash as Keras publishes it: md5, or sha256 when 64 hex digits).
_FIXED: dict[str, tuple[str, str, str]] = {
    **{
        f"ConvNeXt{cls}": (f"convnext_{cls.lower()}_notop.h5", f"{_TF}convnext/convnext_{cls.lower()}_notop.h5", h)
        for cls, h in {
            "Tiny": "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1",
            "Small": "6fc8009faa2f00c1c1dfce59feea9b0745eb260a7dd11bee65c8e20843da6eab",
            "Base": "40a20c5548a5e9202f69735ecc06c990e6b7c9d2de39f0361e27baeb24cb7c45",
            "Large": "96f02b6f0753d4f543261bc9d09bed650f24dd6bc02ddde3066135b63d23a1cd",
            "XLarge": "de3f8a54174130e0cecdc71583354753d557fcf1f4487331558e2a16ba0cfe05",
        }.items()
    },
    **{
        f"DenseNet{n}": _std("densenet", f"densenet{n}", h)
        for n, h in {
            "121": "30ee3e1110167f948a6b9946edeeb738",
            "169": "b8c4d4c20dd625c148057b9ff1c1176b",
            "201": "c13680b51ded0fb44dff2d8f86ac8bb1",
        }.items()
    },
    **{
        f"EfficientNet{b.upper()}": (f"efficientnet{b}_notop.h5", f"{_OLD}efficientnet{b}_notop.h5", h)
        for b, h in {
            "b0": "50bc09e76180e00e4465e1a485ddc09d",
            "b1": "74c4e6b3e1f6a1eea24c589628592432",
            "b2": "111f8e2ac8aa800a7a99e3239f7bfb39",
            "b3": "af6d107764bb5b1abb91932881670226",
            "b4": "ebc24e6d6c33eaebbd558eafbeedf1ba",
            "b5": "38879255a25d3c92d5e44e04ae6cec6f",
            "b6": "9ecce42647a20130c1f39a5d4cb75743",
            "b7": "cbcfe4450ddf6f3ad90b1b398090fe4a",
        }.items()
    },
    **{
        f"EfficientNetV2{v.upper()}": (
            f"efficientnetv2-{v}_notop.h5",
            f"{_TF}efficientnet_v2/efficientnetv2-{v}_notop.h5",
            h,
        )
        for v, h in {
            "b0": "893217f2bb855e2983157299931e43ff",
            "b1": "0e80663031ca32d657f9caa404b6ec37",
            "b2": "1dfe2e7a5d45b6632553a8961ea609eb",
            "b3": "f6abf7b5849ac99a89b50dd3fd532856",
            "s": "af0682fb74e8c54910f2d4393339c070",
            "m": "1b8dc055df72dde80d614482840fe342",
            "l": "b0b66b5c863aef5b46e8608fe1711615",
        }.items()
    },
    **{
        f"ResNet{n}": _std("resnet", f"resnet{n.lower()}", h)
        for n, h in {
            "50": "4d473c1dd8becc155b73f8504c6f6626",
            "101": "88cf7a10940856eca736dc7b7e228a21",
            "152": "ee4c566cf9a93f14d82f913c2dc6dd0c",
            "50V2": "fac2f116257151a9d068a22e544a4917",
            "101V2": "c0ed64b8031c3730f411d2eb4eea35b5",
            "152V2": "ed17cf2e0169df9d443503ef94b23b33",
        }.items()
    },
    "InceptionResNetV2": _std("inception_resnet_v2", "inception_resnet_v2", "d19885ff4a710c122648d3b5c3b684e4"),
    "InceptionV3": _std("inception_v3", "inception_v3", "bcbd6486424b2319ff4ef7d526e38f63"),
    "Xception": _std("xception", "xception", "b0042744bf5b25fce3cb969f33bebb97"),
    "VGG16": _std("vgg16", "vgg16", "6d6bbae143d832006294945121d1f1fc"),
    "VGG19": _std("vgg19", "vgg19", "253f8cb515780f3b799900260a226db6"),
    "NASNetMobile": ("nasnet_mobile_no_top.h5", f"{_TF}nasnet/NASNet-mobile-no-top.h5", "1ed92395b5b598bdda52abe5c0dbfd63"),
    "NASNetLarge": ("nasnet_large_no_top.h5", f"{_TF}nasnet/NASNet-large-no-top.h5", "d81d89dc07e6e56530c4e77faddd61b5"),
}

# MobileNetV3 weights exist for these (type, minimalistic, alpha) combinations only.
_MOBILENET_V3_HASHES = {
    "large_224_0.75_float": "40af19a13ebea4e2ee0c676887f69a2e",
    "large_224_1.0_float": "07fb09a5933dd0c8eaafa16978110389",
    "large_minimalistic_224_1.0_float": "ec5221f64a2f6d1ef965a614bdae7973",
    "small_224_0.75_float": "ebdb5cc8e0b497cd13a7c275d475c819",
    "small_224_1.0_float": "d3e8ec802a04aa4fc771ee12a9a9b836",
    "small_minimalistic_224_1.0_float": "cde8136e733e811080d9fcd8a252f7e4",
}
_MOBILENET_ALPHAS = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}
_MOBILENET_V2_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)

#: Every ``keras.applications`` class the ``keras`` source can build (checked against Keras in tests).
KNOWN_APPLICATIONS: tuple[str, ...] = tuple(
    sorted({*_FIXED, "MobileNet", "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large"})
)


@dataclass(frozen=True)
class RemoteFile:
    """A weights file Keras publishes: its cache file name, URL and hash (md5 or sha256)."""

    file_name: str
    url: str
    file_hash: str | None = None


def _no_weights(locator: str, why: str) -> zooft.WeightsError:
    return zooft.WeightsError(
        f"keras.applications.{locator} has no ImageNet weights {why}",
        hint="change the options/input_size, use 'weights: none', or give a {file: PATH} of your own",
    )


def imagenet_file(locator: str, options: Mapping[str, Any], input_size: tuple[int, int] | None) -> RemoteFile:
    """The ``include_top=False`` ImageNet file Keras would fetch for this application.

    ``input_size`` matters only for MobileNet/MobileNetV2, which publish one file per training
    resolution (Keras falls back to the 224 file for other sizes, and so does zooft).
    """
    h, w = input_size or (224, 224)
    square = h if h == w else None
    if locator in _FIXED:
        return RemoteFile(*_FIXED[locator])
    if locator == "MobileNetV2":
        alpha = float(options.get("alpha", 1.0))
        if alpha not in _MOBILENET_V2_ALPHAS:
            raise _no_weights(locator, f"for alpha={alpha} (choose one of {_MOBILENET_V2_ALPHAS})")
        rows = square if square in (96, 128, 160, 192, 224) else 224
        name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{rows}_no_top.h5"
        return RemoteFile(name, f"{_TF}mobilenet_v2/{name}")
    if locator == "MobileNet":
        alpha = float(options.get("alpha", 1.0))
        if alpha not in _MOBILENET_ALPHAS or options.get("depth_multiplier", 1) != 1:
            raise _no_weights(locator, f"for alpha={alpha} (choose one of {sorted(_MOBILENET_ALPHAS)}, depth_multiplier 1)")
        rows = square if square in (128, 160, 192, 224) else 224
        name = f"mobilenet_{_MOBILENET_ALPHAS[alpha]}_{rows}_tf_no_top.h5"
        return RemoteFile(name, f"{_TF}mobilenet/{name}")
    if locator in ("MobileNetV3Small", "MobileNetV3Large"):
        kind = locator.removeprefix("MobileNetV3").lower()
        minimal = "_minimalistic" if options.get("minimalistic") else ""
        key = f"{kind}{minimal}_224_{float(options.get('alpha', 1.0))}_float"
        if key not in _MOBILENET_V3_HASHES:
            raise _no_weights(locator, f"for {dict(options)} (published: {', '.join(_MOBILENET_V3_HASHES)})")
        name = f"weights_mobilenet_v3_{key}_no_top_v2.h5"
        return RemoteFile(name, f"{_TF}mobilenet_v3/{name}", _MOBILENET_V3_HASHES[key])
    raise unknown_locator(locator)


def unknown_locator(locator: str) -> zooft.RegistryError:
    """The error for a locator that names no ``keras.applications`` class, with close matches."""
    import difflib

    close = difflib.get_close_matches(locator, KNOWN_APPLICATIONS, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(KNOWN_APPLICATIONS)}"
    return zooft.RegistryError(f"keras.applications has no model class {locator!r}", hint=hint)


def verify_hash(path: Path, file_hash: str | None, *, what: str) -> None:
    """Check ``path`` against a Keras-style hash: sha256 if 64 hex digits, else md5.

    md5 is what Keras publishes for most applications; it guards against truncated or wrong
    files (integrity), which is all a cache check needs here.
    """
    if not file_hash:
        return
    if len(file_hash) == 64:
        zooft.verify_sha256(path, file_hash, what=what)
        return
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != file_hash:
        raise zooft.WeightsError(
            f"{what}: md5 mismatch for {path}: expected {file_hash[:12]}…, got {digest.hexdigest()[:12]}…",
            hint="the file is corrupt or not the one Keras publishes; delete it and fetch it again",
        )


def _cache_dir(cache_dir: str | os.PathLike[str] | None) -> Path:
    return (Path(cache_dir).expanduser() if cache_dir else zooft.cache_root()) / "keras"


def remote_for(spec: zooft.ModelSpec, cache_dir: str | os.PathLike[str] | None = None) -> tuple[RemoteFile, Path] | None:
    """For downloadable weights (builtin ``imagenet`` or a URL): the remote file and its cache path."""
    kind = spec.weights.kind
    if kind == "builtin":
        if (spec.weights.location or "imagenet") != "imagenet":
            raise zooft.WeightsError(
                f"{spec.name}: unknown builtin weights {spec.weights.location!r} for the keras source",
                hint="keras applications publish 'imagenet' only; use none, a URL or {file: PATH}",
            )
        remote = imagenet_file(spec.locator, spec.options, spec.input_size)
        return remote, _cache_dir(cache_dir) / remote.file_name
    if kind == "url":
        url = spec.weights.location or ""
        # a per-URL folder keeps two entries whose URLs share a file name apart
        folder = hashlib.sha256(url.encode()).hexdigest()[:16]
        name = Path(url.split("?", 1)[0]).name or "weights.h5"
        return RemoteFile(name, url, spec.weights.sha256), _cache_dir(cache_dir) / "url" / folder / name
    return None


def _pull_hint(spec: zooft.ModelSpec, remote: RemoteFile, dest: Path) -> str:
    return (
        f"run 'zooft pull {spec.name}' where the network is reachable, or download {remote.url} by hand"
        f" and run 'zooft pull {spec.name} --from FILE' (it is stored as {dest})"
    )


def fetch_weights(
    spec: zooft.ModelSpec,
    *,
    from_file: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    offline: bool | None = None,
) -> Path | None:
    """Make ``spec``'s weights available locally and return their path (``None`` for ``none``).

    Used by ``zooft pull`` and by the backbone factory. ``from_file`` imports a file fetched by
    hand (hash-checked) instead of downloading. Offline (``offline=True`` or
    ``ZOOFT_OFFLINE=1``) a missing file raises :class:`zooft.OfflineError` naming both fixes.
    """
    kind = spec.weights.kind
    if kind == "none":
        return None
    what = f"weights of {spec.name}"
    if kind == "file":
        path = Path(spec.weights.location or "")
        if from_file is not None:
            raise zooft.ConfigError(
                f"{spec.name} uses the local weights file {path}; there is nothing to import",
                hint="edit the registry entry's 'weights: {file: ...}' to point at your file instead",
            )
        if not path.is_file():
            raise zooft.WeightsError(
                f"{what}: no file at {path}",
                hint=f"check 'weights: {{file: ...}}' in {spec.origin or 'the registry entry'}"
                " (relative paths are resolved against that file's folder)",
            )
        zooft.verify_sha256(path, spec.weights.sha256, what=what)
        return path
    found = remote_for(spec, cache_dir)
    if found is None:
        raise zooft.WeightsError(f"{what}: unsupported weights kind {kind!r}", hint="use none, imagenet, a URL or {file: PATH}")
    remote, dest = found
    if from_file is not None:
        # import first (it refuses a FIFO or device unread), then check the copy's hash
        path = zooft.import_file(from_file, dest, sha256=None, what=what)
        try:
            verify_hash(path, remote.file_hash, what=what)
        except zooft.WeightsError:
            path.unlink(missing_ok=True)
            raise
        return path
    if dest.is_file():
        verify_hash(dest, remote.file_hash, what=what)
        return dest
    offline = zooft.is_offline() if offline is None else offline
    hint = _pull_hint(spec, remote, dest)
    if offline:
        raise zooft.OfflineError(f"{what} ({remote.file_name}) are not in the cache and zooft is offline", hint=hint)
    sha = remote.file_hash if remote.file_hash and len(remote.file_hash) == 64 else None
    path = zooft.download(remote.url, dest, sha256=sha, what=what, fetch_hint=hint)
    try:
        verify_hash(path, remote.file_hash, what=what)
    except zooft.WeightsError:
        path.unlink(missing_ok=True)  # never leave a bad file where the next run would trust it
        raise
    return path
