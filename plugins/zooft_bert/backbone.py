"""The ``bert`` backbone factory: a keras-hub BERT preset as strings -> ``pooled``/``sequence``.

The model is ``text`` (``(None,)`` strings) -> ``tokenizer`` (:class:`.layers.BertTokenize`,
in the graph) -> ``encoder``, a sub-model from int32 token ids ``(None, L)`` to
``{"pooled": (None, d), "sequence": (None, L, d)}`` around keras-hub's ``BertBackbone``. The
text task relies on those two layer names: the token-id exports (TFLite, ONNX) are the
``encoder`` plus the head, and the host tokenizes with the ``tokenizer``'s config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zooft

from .presets import preset_location

DEFAULT_SEQUENCE_LENGTH = 128  # BERT's 512 costs 16x the attention compute; most labels need far less


@dataclass
class TextBackbone(zooft.Backbone):
    """A :class:`zooft.Backbone` whose layer groups live inside the nested keras-hub model.

    ``core`` is keras-hub's ``BertBackbone``; ``layer_groups`` name its layers (embeddings,
    each transformer layer, the pooler), so :meth:`set_trainable` opens them there.
    """

    core: Any = None

    def set_trainable(self, groups: int | str, *, train_batchnorm: bool = False) -> int:
        """Freeze everything but the last ``groups`` layer groups (``"all"``; ``0`` for none).

        BERT has LayerNorm, not BatchNorm, so ``train_batchnorm`` changes nothing. Returns how
        many weights became trainable.
        """
        n_groups = len(self.layer_groups)
        count = n_groups if groups == "all" else max(0, min(int(groups), n_groups))
        open_names = {name for group in self.layer_groups[n_groups - count:] for name in group} if count else set()
        # Keras sets ``trainable`` recursively: open everything, then close the core's layers
        # that stay frozen (the tokenizer has no weights either way)
        self.model.trainable = bool(open_names)
        if open_names:
            for layer in self.core.layers:
                layer.trainable = layer.name in open_names
        return len(self.model.trainable_weights)


def layer_groups(core: Any) -> list[list[str]]:
    """``[[embedding layers…], [transformer_layer_0], …, [pooled_dense]]`` from input to output."""
    embeddings: list[str] = []
    blocks: list[list[str]] = []
    tail: list[str] = []
    for layer in core.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        if layer.name.startswith("transformer_layer_"):
            blocks.append([layer.name])
        elif blocks:
            tail.append(layer.name)
        else:
            embeddings.append(layer.name)
    return [group for group in [embeddings, *blocks, tail] if group]


def check_sequence_length(value: Any, maximum: int, spec_name: str) -> int:
    """The sequence length to use: ``value`` (default 128, capped to the model), checked."""
    if value is None:
        return min(DEFAULT_SEQUENCE_LENGTH, maximum)
    length = int(value)
    if length > maximum:
        raise zooft.ConfigError(
            f"--sequence-length {length} exceeds {spec_name}'s {maximum} position embeddings",
            hint=f"pass --sequence-length {maximum} or less",
        )
    if length < 3:
        raise zooft.ConfigError(f"--sequence-length {length} leaves no room for text ([CLS] and [SEP] take 2)", hint="use at least 8")
    return length


def _model_name(spec: zooft.ModelSpec) -> str:
    return re.sub(r"[^a-z0-9_]", "_", spec.short_name.lower()) or "bert"


def build_encoder(core: Any, sequence_length: int, pad_id: int) -> Any:
    """Token ids ``(None, L)`` -> ``{"pooled", "sequence"}``; mask and segments derived from the ids."""
    import keras

    token_ids = keras.Input((sequence_length,), dtype="int32", name="token_ids")
    out = core(
        {
            "token_ids": token_ids,
            "segment_ids": keras.ops.zeros_like(token_ids),
            "padding_mask": keras.ops.not_equal(token_ids, pad_id),
        }
    )
    return keras.Model(token_ids, {"pooled": out["pooled_output"], "sequence": out["sequence_output"]}, name="encoder")


def build_backbone(
    spec: zooft.ModelSpec,
    *,
    sequence_length: int | None = None,
    weights: str = "pretrained",
    offline: bool | None = None,
    cache_dir: str | Path | None = None,
    **_: Any,
) -> TextBackbone:
    """Build ``spec`` (a ``bert:`` entry or local preset) as a :class:`TextBackbone` on raw strings.

    ``sequence_length`` (tokens incl. ``[CLS]``/``[SEP]``; default 128 capped to the model)
    must not exceed the preset's position embeddings. ``weights="none"`` keeps the preset's
    architecture and tokenizer but initialises randomly. Unknown keyword arguments (such as
    ``input_size``) are ignored.
    """

    if weights not in ("pretrained", "none"):
        raise zooft.ConfigError(f"weights must be 'pretrained' or 'none', got {weights!r}", hint="use --weights none for random init")
    location = preset_location(
        spec, cache_dir=cache_dir or zooft.cache_root(), offline=zooft.is_offline() if offline is None else bool(offline)
    )

    import keras
    import keras_hub

    from .layers import TOKENIZER_SETTINGS, BertTokenize

    try:
        core = keras_hub.models.BertBackbone.from_preset(location, load_weights=weights == "pretrained")
        tokenizer = keras_hub.models.BertTokenizer.from_preset(location)
    except (ValueError, OSError, KeyError) as exc:
        raise zooft.WeightsError(
            f"cannot load the BERT preset {location}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__}",
            hint="check the preset directory (config.json, model.weights.h5, tokenizer.json, assets/), or fetch it again",
        ) from None
    length = check_sequence_length(sequence_length, int(core.max_sequence_length), spec.name)
    tok_config = tokenizer.get_config()
    settings = {key: tok_config[key] for key in TOKENIZER_SETTINGS if key in tok_config}
    tokenize = BertTokenize(tokenizer.get_vocabulary(), length, settings, name="tokenizer")
    encoder = build_encoder(core, length, tokenize.pad_id)
    text = keras.Input((), dtype="string", name="text")
    model = keras.Model(text, encoder(tokenize(text)), name=_model_name(spec))
    info = {
        "params": int(core.count_params()),
        "preset": str(location),
        "weights": weights,
        "sequence_length": length,
        "max_sequence_length": int(core.max_sequence_length),
        "vocabulary_size": len(tokenize.vocabulary),
        "hidden_dim": int(core.hidden_dim),
        "num_layers": int(core.num_layers),
    }
    return TextBackbone(
        model=model, spec=spec, input_size=None, layer_groups=layer_groups(core), modality="text", info=info, core=core
    )
