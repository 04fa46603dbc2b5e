"""The multi-label head's last layer. Imports Keras at module level: load it lazily."""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="zooft_text")
class LabelThresholds(keras.layers.Layer):
    """Passes sigmoid probabilities through unchanged and carries the per-label decision
    thresholds in its config, so they travel inside ``model.keras`` and reach every export's
    metadata (the exported graphs stay plain: the identity disappears on conversion)."""

    def __init__(self, thresholds: list[float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.thresholds = [float(t) for t in thresholds]

    def call(self, probabilities: Any) -> Any:
        """Identity."""
        return probabilities

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Same as the input."""
        return input_shape

    def get_config(self) -> dict[str, Any]:
        """The thresholds, in class order."""
        return {**super().get_config(), "thresholds": list(self.thresholds)}
