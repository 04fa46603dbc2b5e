"""The ``hub`` backbone source: TF2 reusable SavedModels from tfhub.dev / Kaggle, URLs and folders.

Only the hooks and TensorFlow-free metadata live here (``zooft --help`` and ``zooft
list-models`` import this module); the factory imports Keras, TensorFlow and tensorflow_hub
when a model is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import zooft

from .fetch import fetch, is_remote, is_saved_model, normalize_handle

REGISTRY_FILE = Path(__file__).with_name("models.yaml")


def _build(spec: zooft.ModelSpec, **options: Any) -> zooft.Backbone:
    from .backbone import build_backbone

    return build_backbone(spec, **options)


def _custom_objects() -> dict[str, Any]:
    from .layer import HubLayer

    return {"zooft_hub>HubLayer": HubLayer, "HubLayer": HubLayer}


def signature_size(path: Path) -> tuple[int, int] | None:
    """The fixed (height, width) of a SavedModel's serving signature, if it declares one.

    Reads ``saved_model.pb`` with TensorFlow's protobuf classes (no variables are loaded).
    """
    from tensorflow.core.protobuf import saved_model_pb2  # heavy: only for ad-hoc local models

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((path / "saved_model.pb").read_bytes())
    for graph in proto.meta_graphs:
        signature = graph.signature_def.get("serving_default")
        if signature is None:
            continue
        for tensor in signature.inputs.values():
            dims = [d.size for d in tensor.tensor_shape.dim]
            if len(dims) == 4 and dims[1] > 0 and dims[2] > 0:
                return (dims[1], dims[2])
    return None


def resolve(text: str) -> zooft.ModelSpec | None:
    """Ad-hoc ``hub:<handle>``: a tfhub.dev/Kaggle handle, an http(s) URL of a .tar.gz, or a
    local SavedModel directory. The input size comes from the model's serving signature when
    it is local (or already cached) and fixes one; otherwise ``--image-size`` is required."""
    from .fetch import module_dir

    if not text:
        return None
    handle = normalize_handle(text)
    if not is_remote(handle) and not Path(handle).exists():
        return None  # neither a URL nor a folder: let the registry suggest names
    local = Path(handle) if not is_remote(handle) else module_dir(handle)
    size = signature_size(local) if is_saved_model(local) and (local / "saved_model.pb").is_file() else None
    return zooft.ModelSpec(
        name=f"hub:{text}",
        source="hub",
        locator=handle,
        weights=zooft.WeightsSpec("builtin", "hub"),
        input_size=size,
        preprocessing={"mode": "unit"},
        tasks=("classify",),
        description="ad-hoc TF Hub model (not in the registry); inputs scaled to [0, 1]",
        origin="zooft_hub.plugin.resolve",
    )


@zooft.hookimpl
def zooft_register_backbones(register: Callable[[zooft.BackboneSource], None]) -> None:
    """Register the ``hub`` source: TF Hub / Kaggle feature-vector models that fine-tune."""
    register(
        zooft.BackboneSource(
            name="hub",
            factory=_build,
            fetch=fetch,
            resolve=resolve,
            custom_objects=_custom_objects,
            description="TF Hub / Kaggle TF2 SavedModels (feature vectors), trainable under Keras 3",
            modalities=("image",),
        )
    )


@zooft.hookimpl
def zooft_registry_files() -> Iterable[Path]:
    """The packaged ``hub:`` entries (EfficientNet, EfficientNetV2, MobileNet, ResNet, BiT, Inception)."""
    return [REGISTRY_FILE]
