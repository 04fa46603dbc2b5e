"""Entry point ``bert = "zooft_bert.plugin"``: registers the ``bert`` backbone source and its zoo.

TensorFlow-free: the factory, the preset fetcher and the custom objects import keras-hub when
they are called.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import zooft

from .presets import KAGGLE_PREFIX, read_preset_config

REGISTRY_FILE = Path(__file__).with_name("models.yaml")


def _build(spec: zooft.ModelSpec, **options: Any) -> Any:
    from .backbone import build_backbone

    return build_backbone(spec, **options)


def _custom_objects() -> dict[str, Any]:
    from .layers import BertTokenize  # importing it registers keras-hub's classes as well

    return {"zooft_bert>BertTokenize": BertTokenize}


def resolve(text: str) -> zooft.ModelSpec | None:
    """``bert:/path/to/preset`` (a local keras-hub preset directory) or ``bert:kaggle://…``.

    Anything else is left to the registry (``None``). A path that is not a BERT preset raises
    :class:`zooft.ConfigError` saying why, rather than "unknown model".
    """
    if text.startswith(KAGGLE_PREFIX):
        name = text[len(KAGGLE_PREFIX):].strip("/").split("/")
        return zooft.ModelSpec(
            name=f"bert:{name[3] if len(name) > 3 else name[-1]}", source="bert", locator=text,
            weights=zooft.WeightsSpec("builtin", text), modality="text", tasks=("text-classify",),
            description=f"keras-hub BERT preset {text} (ad-hoc, not in the registry)", origin="zooft_bert.plugin.resolve",
        )
    looks_like_path = os.sep in text or text.startswith((".", "~")) or os.path.exists(text)
    if not looks_like_path:
        return None
    path = Path(os.path.expanduser(text)).resolve()
    config = read_preset_config(path)
    inner = config.get("config", {})
    return zooft.ModelSpec(
        name=f"bert:{path.name}",
        source="bert",
        locator=str(path),
        weights=zooft.WeightsSpec("file", str(path)),
        modality="text",
        tasks=("text-classify",),
        options={"max_sequence_length": inner.get("max_sequence_length")},
        description=f"local keras-hub BERT preset ({inner.get('num_layers', '?')} layers, hidden {inner.get('hidden_dim', '?')})",
        origin="zooft_bert.plugin.resolve",
    )


def fetch(spec: zooft.ModelSpec, *, cache_dir: Any = None, from_file: Any = None, **_: Any) -> Any:
    """``zooft pull bert:…``: download a Kaggle preset into zooft's cache (kagglehub's layout)."""

    from .presets import cached_handle_dir, kaggle_cache

    handle = spec.weights.location if spec.weights.kind == "builtin" else None
    if not handle or not handle.startswith(KAGGLE_PREFIX):
        return spec.locator  # a local preset: nothing to fetch
    if from_file is not None:
        raise zooft.ConfigError("bert presets are directories; --from does not apply", hint="pass the directory as --backbone bert:/path")
    root = Path(cache_dir) if cache_dir else zooft.cache_root()
    os.environ["KAGGLEHUB_CACHE"] = str(kaggle_cache(root))
    import keras_hub

    keras_hub.models.BertBackbone.from_preset(handle)
    keras_hub.models.BertTokenizer.from_preset(handle)
    return cached_handle_dir(handle, root)


@zooft.hookimpl
def zooft_register_backbones(register: Callable[[zooft.BackboneSource], None]) -> None:
    """Register the ``bert`` source (keras-hub BERT presets; strings in, pooled/sequence out)."""
    register(
        zooft.BackboneSource(
            name="bert",
            factory=_build,
            resolve=resolve,
            fetch=fetch,
            custom_objects=_custom_objects,
            modalities=("text",),
            description="BERT encoders from keras-hub presets (Kaggle handles or local preset directories), tokenizer in the graph",
        )
    )


@zooft.hookimpl
def zooft_registry_files() -> Iterable[Path]:
    """The BERT presets: tiny/small/medium/base/large, uncased/cased, multilingual, Chinese."""
    return [REGISTRY_FILE]
