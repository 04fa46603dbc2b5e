"""Re-estimating BatchNormalization statistics after training from scratch.

A network whose BatchNorm layers trained in a short run (``--weights none``) evaluates with
moving statistics that lag far behind its weights: the moving averages mix batches seen under
weights that no longer exist. Measured here: full-width MobileNetV2 trained from scratch on
the digits for 6 epochs reached 99.6 % training accuracy and 9.8 % test accuracy (chance);
re-estimating the statistics with the final weights gave 97.6 %. This is the "precise BN" step
of detectron2 and timm, done with Keras's own update rule: forward passes in training mode
(no gradients) at a fast momentum, so the moving averages settle on the final weights.
"""

from __future__ import annotations

from typing import Any

RECALIBRATION_MOMENTUM = 0.9  # after 100 batches the initial statistics weigh 0.9**100 ≈ 3e-5
RECALIBRATION_BATCHES = 100


def trainable_batchnorm_layers(model: Any) -> list[Any]:
    """The BatchNormalization layers of ``model`` (nested models included) that are trainable."""
    import keras

    found: list[Any] = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.BatchNormalization):
            if layer.trainable:
                found.append(layer)
        else:
            found.extend(trainable_batchnorm_layers(layer))  # a nested backbone model
    return found


def recalibrate_batchnorm(model: Any, dataset: Any, *, strategy: Any = None, batches: int = RECALIBRATION_BATCHES) -> int:
    """Re-estimate the moving mean/variance of ``model``'s trainable BatchNorm layers on
    ``dataset`` (batched ``(inputs, targets)``, shuffled, without augmentation), weights fixed.
    Under a distribution ``strategy`` each replica runs the batch (the updates are aggregated
    like in training).

    Returns how many batches were used (0 when there is no trainable BatchNorm layer).
    """
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()

    layers = trainable_batchnorm_layers(model)
    if not layers:
        return 0
    saved = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = RECALIBRATION_MOMENTUM

    def step(inputs: Any) -> None:
        model(inputs, training=True)  # training mode updates the moving statistics, nothing else

    @tf.function(reduce_retracing=True, autograph=False)
    def forward(inputs: Any) -> None:
        strategy.run(step, args=(inputs,))

    used = 0
    try:
        while used < batches:  # small data sets: several passes, each reshuffled by tf.data
            before = used
            for inputs, _ in dataset.take(batches - used):
                forward(inputs)
                used += 1
            if used == before:
                break
    finally:
        for layer, momentum in zip(layers, saved):
            layer.momentum = momentum
    return used
