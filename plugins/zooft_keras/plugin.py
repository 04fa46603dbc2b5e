"""zooft's first-party ``keras`` backbone source: the ``keras.applications`` model zoo.

Only the hook and TensorFlow-free metadata live here: importing this module (which ``zooft
--help`` and ``zooft list-models`` do) never imports TensorFlow. The factory imports Keras
when it is called.
"""

from __future__ import annotations

from collections.abc import Callable

import zooft

from .backbone import build_backbone
from .weights import KNOWN_APPLICATIONS, fetch_weights

__all__ = ["KNOWN_APPLICATIONS", "default_preprocessing", "resolve", "zooft_register_backbones"]

_NATIVE_SIZES = {
    "Xception": 299, "InceptionV3": 299, "InceptionResNetV2": 299, "NASNetLarge": 331,
    "EfficientNetB1": 240, "EfficientNetB2": 260, "EfficientNetB3": 300, "EfficientNetB4": 380,
    "EfficientNetB5": 456, "EfficientNetB6": 528, "EfficientNetB7": 600,
    "EfficientNetV2B1": 240, "EfficientNetV2B2": 260, "EfficientNetV2B3": 300,
    "EfficientNetV2S": 384, "EfficientNetV2M": 480, "EfficientNetV2L": 480,
}


def default_preprocessing(locator: str) -> str:
    """The preprocessing mode of a family, as its ``keras.applications`` ``preprocess_input`` does it.

    ``none`` for families that preprocess inside the network (EfficientNet, EfficientNetV2,
    ConvNeXt, MobileNetV3); ``caffe`` for ResNet V1 and VGG; ``torch`` for DenseNet;
    ``tf`` for the rest.
    """
    if locator.startswith(("EfficientNet", "ConvNeXt", "MobileNetV3")):
        return "none"
    if locator.startswith(("VGG",)) or (locator.startswith("ResNet") and not locator.endswith("V2")):
        return "caffe"
    if locator.startswith("DenseNet"):
        return "torch"
    return "tf"


def resolve(text: str) -> zooft.ModelSpec | None:
    """Ad-hoc ``keras:<ApplicationClass>`` names (``keras:ResNet101``) that are not in the registry."""
    if text not in KNOWN_APPLICATIONS:
        return None
    return zooft.ModelSpec(
        name=f"keras:{text}",
        source="keras",
        locator=text,
        weights=zooft.WeightsSpec("builtin", "imagenet"),
        input_size=(_NATIVE_SIZES.get(text, 224),) * 2,
        preprocessing={"mode": default_preprocessing(text)},
        tasks=("classify", "detect"),
        license="Apache-2.0",
        description=f"keras.applications.{text} with ImageNet weights (ad-hoc, not in the registry)",
        origin="zooft_keras.plugin.resolve",
    )


@zooft.hookimpl
def zooft_register_backbones(register: Callable[[zooft.BackboneSource], None]) -> None:
    """Register the ``keras`` source: every ``keras.applications`` class, flat, with its preprocessing."""
    register(
        zooft.BackboneSource(
            name="keras",
            factory=build_backbone,
            fetch=fetch_weights,
            resolve=resolve,
            description="keras.applications models (MobileNet, EfficientNet, ResNet, ConvNeXt …) with ImageNet weights",
            modalities=("image",),
        )
    )
