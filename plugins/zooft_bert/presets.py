"""Where a ``bert`` entry's preset lives: a local directory or a cached Kaggle handle.

TensorFlow-free (plain files and JSON), so ``resolve`` can check a ``bert:/path`` before any
model is built, and offline runs fail before TensorFlow is even imported.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import zooft

KAGGLE_PREFIX = "kaggle://"
PRESET_CLASS = "BertBackbone"


def kaggle_cache(cache_dir: str | os.PathLike[str]) -> Path:
    """Where zooft keeps Kaggle downloads (kagglehub's ``KAGGLEHUB_CACHE``) under its cache root."""
    return Path(cache_dir) / "kaggle"


def cached_handle_dir(handle: str, cache_dir: str | os.PathLike[str]) -> Path:
    """kagglehub's cache layout for ``kaggle://owner/model/framework/variation/version``."""
    return kaggle_cache(cache_dir) / "models" / handle[len(KAGGLE_PREFIX):].strip("/")


def read_preset_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The backbone ``config.json`` of a keras-hub preset directory, checked to be a BERT one.

    Raises :class:`zooft.ConfigError` naming the directory when it is not a preset or holds
    another architecture.
    """
    root = Path(path)
    hint = "pass a directory written by BertBackbone.save_to_preset + BertTokenizer.save_to_preset, or a registry name ('zooft list-models --source bert')"
    config_file = root / "config.json"
    if not root.is_dir() or not config_file.is_file():
        raise zooft.ConfigError(f"bert:{path} is not a keras-hub preset directory (no config.json in it)", hint=hint)
    try:
        doc = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise zooft.ConfigError(f"cannot read {config_file}: {exc}", hint=hint) from None
    if not isinstance(doc, dict) or doc.get("class_name") != PRESET_CLASS:
        got = doc.get("class_name") if isinstance(doc, dict) else type(doc).__name__
        raise zooft.ConfigError(f"{root} holds a {got} preset, not a {PRESET_CLASS}", hint=hint)
    if not (root / "tokenizer.json").is_file():
        raise zooft.ConfigError(f"{root} has no tokenizer.json: the tokenizer was not saved with the preset", hint=hint)
    return doc


def preset_location(spec: zooft.ModelSpec, *, cache_dir: str | os.PathLike[str], offline: bool) -> str:
    """The local directory (or, online, the Kaggle handle) to load ``spec`` from.

    A cached handle is used as a plain directory, so nothing touches the network; offline and
    not cached raises :class:`zooft.OfflineError` naming ``zooft pull``.
    """
    locator = spec.weights.location if spec.weights.kind == "builtin" and spec.weights.location else spec.locator
    if not locator.startswith(KAGGLE_PREFIX):
        read_preset_config(locator)
        return locator
    cached = cached_handle_dir(locator, cache_dir)
    if (cached / "config.json").is_file():
        return str(cached)
    if offline:
        raise zooft.OfflineError(
            f"{spec.name} ({locator}) is not in the cache and ZOOFT_OFFLINE is set",
            hint=f"run 'zooft pull {spec.name}' with network access, or pass a local preset: --backbone bert:/path/to/preset",
        )
    os.environ.setdefault("KAGGLEHUB_CACHE", str(kaggle_cache(cache_dir)))
    return locator


def write_tiny_preset(
    out_dir: str | os.PathLike[str],
    vocabulary: list[str],
    *,
    num_layers: int = 2,
    num_heads: int = 2,
    hidden_dim: int = 32,
    intermediate_dim: int = 64,
    max_sequence_length: int = 64,
    lowercase: bool = True,
    seed: int = 0,
) -> Path:
    """Write a small randomly initialised BERT preset (backbone + tokenizer) to ``out_dir``.

    For offline tests and demos: ``--backbone bert:OUT_DIR``. ``vocabulary`` gets BERT's
    special tokens (``[PAD] [UNK] [CLS] [SEP] [MASK]``) in front where missing. Imports
    keras-hub.
    """
    import keras
    import keras_hub

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = specials + [t for t in dict.fromkeys(vocabulary) if t not in specials]
    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocab), num_layers=num_layers, num_heads=num_heads, hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim, max_sequence_length=max_sequence_length,
    )
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocab, lowercase=lowercase)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    backbone.save_to_preset(str(out))
    tokenizer.save_to_preset(str(out))
    return out
