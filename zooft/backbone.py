"""What a backbone factory returns, and helpers every backbone plugin shares.

No TensorFlow at import time: the helpers import Keras inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .specs import ModelSpec

FEATURE_LEVELS = ("stride8", "stride16", "stride32")
TRAINING_BN_MOMENTUM = 0.99  # Keras's default; see Backbone.set_trainable


@dataclass
class Backbone:
    """A pretrained network turned into a feature extractor, ready for a task head.

    ``model`` is a Keras model from *raw* inputs (images as float32 or uint8 in 0–255 of shape
    ``(None, h, w, 3)``, or strings for text) to a dict of outputs: ``"pooled"`` (a
    ``(None, d)`` vector) and, where the architecture has them, ``"stride8"``, ``"stride16"``,
    ``"stride32"`` feature maps, or ``"sequence"`` for text. The preprocessing the weights
    expect is inside ``model`` so that exported artifacts take raw inputs.

    ``layer_groups`` lists the layers of ``model`` (names) from input to output in blocks;
    the training core unfreezes the last N of them in the fine-tuning phase.
    """

    model: Any
    spec: ModelSpec
    input_size: tuple[int, int] | None
    layer_groups: list[list[str]] = field(default_factory=list)
    modality: str = "image"
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def outputs(self) -> tuple[str, ...]:
        """Names of the outputs ``model`` produces."""
        return tuple(self.model.output.keys()) if isinstance(self.model.output, dict) else ("pooled",)

    def set_trainable(self, groups: int | str, *, train_batchnorm: bool = False) -> int:
        """Freeze everything but the last ``groups`` layer groups (``"all"`` or ``0`` for none).

        BatchNormalization layers stay frozen unless ``train_batchnorm``, so they run in
        inference mode and keep the statistics learned in pretraining: small fine-tuning sets
        would otherwise wreck them (the Keras transfer-learning guide's advice). A backbone
        trained from scratch (``--weights none``) has no such statistics and trains them.
        Returns how many weights became trainable.

        BatchNormalization layers that train get a momentum of at most
        :data:`TRAINING_BN_MOMENTUM`: some applications (MobileNetV2, EfficientNet) use 0.999,
        whose moving statistics need thousands of steps to leave their initial values, so a
        short run from scratch evaluates (inference mode) at chance level while its training
        accuracy climbs.
        """
        import keras

        n_groups = len(self.layer_groups)
        count = n_groups if groups == "all" else max(0, min(int(groups), n_groups))
        open_names = {name for group in self.layer_groups[n_groups - count:] for name in group} if count else set()
        self.model.trainable = bool(open_names)
        for layer in self.model.layers:
            is_bn = isinstance(layer, keras.layers.BatchNormalization)
            layer.trainable = layer.name in open_names and (train_batchnorm or not is_bn)
            if is_bn and layer.trainable:
                layer.momentum = min(layer.momentum, TRAINING_BN_MOMENTUM)
        return len(self.model.trainable_weights)
