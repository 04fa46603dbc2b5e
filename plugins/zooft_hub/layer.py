"""``HubLayer``: a TF2 reusable SavedModel (TF Hub / Kaggle) as a Keras 3 layer that fine-tunes.

What does not work under Keras 3 (measured, see docs/hub.md): ``hub.KerasLayer`` is a tf_keras
layer and Keras 3 models reject it; ``keras.layers.TFSMLayer`` keeps ``:0`` in variable names
(slot optimizers such as Adam fail on them) and calls the serving signature, so BatchNorm
statistics never update. This layer instead

* loads the SavedModel with ``hub.load`` (tensorflow_hub's resolver; zooft filled its cache),
* calls the loaded object's ``__call__(x, training=...)``, passing ``training`` only when the
  layer is trainable *and* its BatchNorm is open (Keras semantics: frozen => inference mode),
* tracks each loaded ``tf.Variable`` as ``keras.Variable(initializer=<that variable>)``, which
  wraps the same variable (no copy), under a name free of ``:`` and ``/``, so any Keras
  optimizer updates exactly the weights the SavedModel's graph reads,
* serializes as its handle (``get_config``): ``.keras`` files store the weights, and loading
  resolves the handle again (from the cache, offline) before the weights are restored.

Models that only offer signatures (no ``__call__``) run through ``signatures["serving_default"]``
and stay frozen: a signature is an inference graph with no ``training`` argument and no list of
trainable variables, so there is nothing an optimizer could update correctly (``fine_tunable``).
"""

from __future__ import annotations

import re
from typing import Any

import keras

import zooft

_BAD_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


def _clean(name: str) -> str:
    """``'block1/conv/kernel:0'`` -> ``'block1_conv_kernel'``: Keras and its optimizers build
    scope names from variable names, and ``:`` and ``/`` are not valid there."""
    return _BAD_CHARS.sub("_", name.split(":", 1)[0]).strip("_") or "var"


def load_module(handle: str, cache_dir: Any = None) -> tuple[Any, str]:
    """Fetch ``handle`` into zooft's cache (if needed) and ``hub.load`` it; returns (module, path)."""
    import os

    import tensorflow_hub as hub

    from .fetch import fetch_module, hub_cache_dir, is_remote, normalize_handle

    handle = normalize_handle(handle)
    spec = zooft.ModelSpec(name=f"hub:{handle}", source="hub", locator=handle, weights=zooft.WeightsSpec("builtin", "hub"))
    path = fetch_module(spec, cache_dir=cache_dir)
    if is_remote(handle):
        # tensorflow_hub's resolver finds the folder zooft filled (same cache layout): no network.
        os.environ["TFHUB_CACHE_DIR"] = str(hub_cache_dir(cache_dir))
        path = hub.resolve(handle)
    return hub.load(str(path)), str(path)


@keras.saving.register_keras_serializable(package="zooft_hub")
class HubLayer(keras.layers.Layer):
    """A TF Hub reusable SavedModel as a trainable Keras 3 layer.

    :param handle: tfhub.dev/Kaggle handle, http(s) URL of a .tar.gz, or a local directory.
    :param output_key: for models returning a dict, the output to use (default: ``"default"``
        or the only key).
    :param train_batchnorm: run the model in training mode when training (BatchNorm uses batch
        statistics and updates its moving averages). ``False`` keeps BatchNorm in inference
        mode while the other weights fine-tune, as zooft does for Keras backbones.
    :param cache_dir: zooft's cache root (default ``ZOOFT_HOME``).
    """

    def __init__(
        self,
        handle: str,
        output_key: str | None = None,
        train_batchnorm: bool = False,
        cache_dir: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.handle = handle
        self.output_key = output_key
        self.train_batchnorm = bool(train_batchnorm)
        # cache_dir is not serialized: a saved model resolves its handle in the loading
        # machine's cache (ZOOFT_HOME), not in the one it was trained with
        self.module, self.local_path = load_module(handle, cache_dir)
        # Reusable SavedModels (the TF2 hub format) expose __call__(x, training) and their
        # variables; older exports offer only signatures: those run frozen.
        self.callable = callable(self.module)
        self.fine_tunable = self.callable and bool(getattr(self.module, "trainable_variables", None))
        self._signature = None
        if not self.callable:
            signatures = getattr(self.module, "signatures", None) or {}
            if "serving_default" not in signatures:
                raise zooft.WeightsError(
                    f"hub model {handle} has neither a __call__ function nor a serving_default signature",
                    hint="use a TF2 SavedModel for TF Hub (a 'feature_vector' model in TF2 format)",
                )
            self._signature = signatures["serving_default"]
        # Track the SavedModel's variables as Keras variables wrapping the very same tf.Variables.
        loaded = list(getattr(self.module, "variables", []) or [])
        trainable_ids = {id(v) for v in getattr(self.module, "trainable_variables", []) or []}
        self.hub_variables: list[Any] = []
        self.hub_names: list[str] = []
        self.trainable_ids: set[int] = set()  # indices of variables the model lists as trainable
        seen: set[str] = set()
        for var in loaded:
            name = _clean(var.name)
            while name in seen:  # two variables may clean to the same name
                name += "_"
            seen.add(name)
            trainable = self.fine_tunable and id(var) in trainable_ids
            if trainable:
                self.trainable_ids.add(len(self.hub_variables))
            wrapped = self.add_variable_from(var, name, trainable)
            self.hub_variables.append(wrapped)
            self.hub_names.append(var.name.split(":", 1)[0])
        if not self.fine_tunable:
            self.trainable = False
        self.built = True

    def add_variable_from(self, var: Any, name: str, trainable: bool) -> Any:
        """Wrap ``var`` (a tf.Variable of the SavedModel) as a tracked Keras variable, no copy."""
        wrapped = keras.Variable(initializer=var, name=name, trainable=trainable, dtype=var.dtype.name)
        self._track_variable(wrapped)
        return wrapped

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if self._signature is not None:
            outputs = self._signature(**{self._signature_input(): inputs})
        else:
            outputs = self.module(inputs, training=bool(training) and self.trainable and self.train_batchnorm)
        if isinstance(outputs, dict):
            key = self.output_key or ("default" if "default" in outputs else None)
            if key is None and len(outputs) == 1:
                key = next(iter(outputs))
            if key not in outputs:
                raise zooft.ConfigError(
                    f"hub model {self.handle} returns outputs {sorted(outputs)}; which one is the feature vector?",
                    hint="set options: {output_key: NAME} in the registry entry",
                )
            outputs = outputs[key]
        return outputs

    def _signature_input(self) -> str:
        names = list(self._signature.structured_input_signature[1])
        return names[0]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            handle=self.handle,
            output_key=self.output_key,
            train_batchnorm=self.train_batchnorm,
        )
        return config
