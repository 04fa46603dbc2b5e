"""The ``hub`` backbone factory: raw image -> preprocessing -> :class:`HubLayer` -> ``pooled``.

A hub model is one Keras layer (its graph is the SavedModel's), so gradual unfreezing cannot
toggle Keras layers as the ``keras`` source does. Instead the SavedModel's variables are grouped
by their names (``block3/…``, ``blocks_12/…``, ``stage2/…``), in the order the model lists them
(creation order: input to output), and :class:`HubBackbone` opens the last N groups by setting
each Keras variable's ``trainable`` flag. Keras is imported inside the functions only.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zooft

# "block_3", "blocks_12", "stage2", "conv4": the block a variable belongs to, from its name
_BLOCK_RE = re.compile(r"[A-Za-z]+_?\d+")
_GROUP_PREFIX = "hub/"


def variable_groups(names: list[str]) -> tuple[list[str], list[list[int]]]:
    """Group variable indices from input to output by name: the first path component after
    the prefix all names share, reduced to its block key (``block1_conv`` and ``block1_bn`` are
    one group); consecutive variables with the same key form a group. One group when the names
    carry no structure. Returns the group keys and, per group, the variable indices."""
    if not names:
        return [], []
    split = [n.split("/") for n in names]
    common = 0
    while all(len(s) > common + 1 for s in split) and len({s[common] for s in split}) == 1:
        common += 1
    groups: list[list[int]] = []
    keys: list[str] = []
    for i, parts in enumerate(split):
        head = parts[common] if len(parts) > common else parts[-1]
        match = _BLOCK_RE.match(head)
        key = match.group(0) if match else head
        if groups and key == keys[-1]:
            groups[-1].append(i)
        else:
            groups.append([i])
            keys.append(key)
    return keys, groups


def batchnorm_variables(names: list[str]) -> set[int]:
    """Indices of BatchNorm scale/offset variables: a ``…/gamma`` or ``…/beta`` whose scope also
    holds a ``moving_mean`` (GroupNorm and LayerNorm have none, so they train as usual)."""
    scopes_with_stats = {n.rpartition("/")[0] for n in names if n.rpartition("/")[2].startswith("moving_mean")}
    return {
        i for i, n in enumerate(names)
        if n.rpartition("/")[2] in ("gamma", "beta") and n.rpartition("/")[0] in scopes_with_stats
    }


@dataclass
class HubBackbone(zooft.Backbone):
    """A :class:`zooft.Backbone` whose layer groups are groups of the hub model's variables.

    ``layer_groups`` holds pseudo-names ``hub/<group key>`` (for reports and the group count);
    ``variable_groups`` the indices into the hub layer's variables for each of them.
    """

    hub_layer: Any = None
    variable_groups: list[list[int]] | None = None

    def set_trainable(self, groups: int | str, *, train_batchnorm: bool = False) -> int:
        """Open the last ``groups`` variable groups (``"all"``; ``0`` freezes the hub model).

        As for Keras backbones, BatchNorm trains only with ``train_batchnorm``: otherwise its
        scale/offset stay frozen and it runs in inference mode (pretrained statistics kept),
        while the other weights of the open groups train. A signature-only model stays frozen
        and says why.
        """
        layer, var_groups = self.hub_layer, self.variable_groups or []
        n_groups = len(var_groups)
        count = n_groups if groups == "all" else max(0, min(int(groups), n_groups))
        if count and not layer.fine_tunable:
            print(
                f"note: {self.spec.name} stays frozen: the SavedModel offers only a serving signature"
                " (no __call__ with a training argument, no trainable variables), so there is nothing"
                " to fine-tune; only the head trains",
                file=sys.stderr,
            )
            count = 0
        open_ids = {i for group in var_groups[n_groups - count:] for i in group} if count else set()
        # Layer flags first: Keras's trainable setter resets every variable's flag it owns.
        self.model.trainable = bool(open_ids)
        layer.trainable = bool(open_ids)
        layer.train_batchnorm = bool(train_batchnorm)
        trainable_ids = set(getattr(layer, "trainable_ids", set()))
        frozen_bn = set() if train_batchnorm else batchnorm_variables(layer.hub_names)
        for i, var in enumerate(layer.hub_variables):
            var.trainable = i in open_ids and i in trainable_ids and i not in frozen_bn
        return len(layer.trainable_weights)


def _size(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, int):
        return (value, value)
    return (int(value[0]), int(value[1]))


def _preprocess(raw: Any, config: Mapping[str, Any], spec_name: str) -> Any:
    """Raw 0–255 pixels -> what the hub model expects, as a Keras layer that exports."""
    import keras

    mode = config.get("mode", "unit")
    if mode == "none":
        return raw
    if mode == "unit":  # the TF Hub image convention: float32 in [0, 1]
        return keras.layers.Rescaling(1 / 255.0, name="image_scale")(raw)
    if mode == "tf":
        return keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="image_scale")(raw)
    if mode == "scale":
        return keras.layers.Rescaling(float(config["scale"]), offset=float(config["offset"]), name="image_scale")(raw)
    raise zooft.RegistryError(
        f"{spec_name}: preprocessing mode {mode!r} is not supported by the hub source",
        hint="hub image models take [0, 1] floats: use 'unit' (or tf, scale, none)",
    )


def build_backbone(
    spec: zooft.ModelSpec,
    *,
    input_size: int | tuple[int, int] | None = None,
    weights: str = "pretrained",
    offline: bool | None = None,
    cache_dir: str | Path | None = None,
    **_: Any,
) -> HubBackbone:
    """Build ``spec`` (a ``hub:`` entry or ad-hoc handle) as a backbone taking raw 0–255 images.

    The SavedModel is fetched into zooft's cache first (offline: from the cache only, else
    :class:`zooft.OfflineError` with the ``zooft pull`` fix). ``weights="none"`` is refused:
    a hub model is its trained variables.
    """
    if weights != "pretrained":
        raise zooft.ConfigError(
            f"{spec.name}: a hub model cannot start from random weights (got --weights {weights})",
            hint="drop --weights none, or use a keras: backbone for training from scratch",
        )
    from .fetch import fetch_module, hub_cache_dir, is_remote, normalize_handle

    fetch_module(spec, cache_dir=cache_dir, offline=offline)  # before Keras: fail fast offline
    size = _size(input_size) or spec.input_size
    if size is None:
        raise zooft.ConfigError(f"{spec.name} has no input size", hint="pass --image-size N or HxW")

    import keras

    from .layer import HubLayer

    handle = normalize_handle(spec.locator)
    if is_remote(handle):
        os.environ["TFHUB_CACHE_DIR"] = str(hub_cache_dir(cache_dir))
    h, w = size
    raw = keras.Input((h, w, 3), name="image")
    x = _preprocess(raw, spec.preprocessing, spec.name)
    # float32 whatever the precision policy: the SavedModel's graph is float32 and would reject
    # the float16 inputs a mixed-precision policy casts to
    layer = HubLayer(handle, output_key=spec.options.get("output_key"), name="hub", dtype="float32",
                     cache_dir=str(cache_dir) if cache_dir else None)
    features = layer(x)
    if len(features.shape) == 4:  # a feature map: pool it (some hub models return maps)
        features = keras.layers.GlobalAveragePooling2D(name="pooled")(features)
    # Keras scope names must start with a letter or digit: paths and URLs do not
    model_name = re.sub(r"[^A-Za-z0-9]+", "_", spec.short_name).strip("_")[-60:].lstrip("_") or "hub"
    model = keras.Model(raw, {"pooled": features}, name=model_name)
    # A signature-only model gets one group, so that unfreezing it reaches set_trainable's note.
    keys, groups = variable_groups(layer.hub_names) if layer.fine_tunable else (["signature"], [list(range(len(layer.hub_variables)))])
    info = {
        "params": int(model.count_params()),
        "handle": handle,
        "path": layer.local_path,
        "fine_tunable": layer.fine_tunable,
        "variables": len(layer.hub_variables),
        "variable_groups": len(groups) if layer.fine_tunable else 0,
    }
    return HubBackbone(
        model=model,
        spec=spec,
        input_size=(h, w),
        layer_groups=[[f"{_GROUP_PREFIX}{key}"] for key in keys],
        info=info,
        hub_layer=layer,
        variable_groups=groups,
    )
