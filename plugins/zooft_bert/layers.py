"""The in-graph tokenizer of a ``bert`` backbone: raw strings -> packed WordPiece token ids.

Imports Keras and keras-hub at module level, so only factories and model loading import it.

keras-hub's own ``BertTokenizer`` keeps its vocabulary as a saved *asset*, which a functional
model rebuilt by ``keras.saving.load_model`` needs before the assets are read ("No vocabulary
has been set"). :class:`BertTokenize` therefore keeps the vocabulary and every tokenizer
setting in its config: the ``.keras`` file round-trips, and the same config (shipped in an
export's metadata) rebuilds the exact tokenizer on the host for TFLite/ONNX artifacts.
"""

from __future__ import annotations

from typing import Any

import keras
import keras_hub

#: BertTokenizer settings that change which ids a text gets (copied from a preset's tokenizer).
TOKENIZER_SETTINGS = ("lowercase", "strip_accents", "split", "split_on_cjk", "suffix_indicator", "oov_token")


@keras.saving.register_keras_serializable(package="zooft_bert")
class BertTokenize(keras.layers.Layer):
    """Strings ``(batch,)`` -> int32 token ids ``(batch, sequence_length)``.

    ``[CLS] tokens… [SEP]`` then ``[PAD]`` (id of ``[PAD]``, 0 in BERT vocabularies) up to
    ``sequence_length``; longer texts are truncated so that ``[SEP]`` stays last. The padding
    mask and segment ids the encoder needs are derived from the ids, so the exported
    token-id models take a single input.
    """

    def __init__(self, vocabulary: list[str], sequence_length: int, settings: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vocabulary = [str(token) for token in vocabulary]
        self.sequence_length = int(sequence_length)
        self.settings = {k: v for k, v in dict(settings or {}).items() if k in TOKENIZER_SETTINGS}
        self.tokenizer = keras_hub.models.BertTokenizer(vocabulary=self.vocabulary, **self.settings)
        self.pad_id = int(self.tokenizer.pad_token_id)
        self.packer = keras_hub.layers.MultiSegmentPacker(
            start_value=self.tokenizer.cls_token_id,
            end_value=self.tokenizer.sep_token_id,
            pad_value=self.pad_id,
            sequence_length=self.sequence_length,
        )

    def build(self, input_shape: Any = None) -> None:
        """Nothing to build: the tokenizer holds no weights."""
        self.built = True

    def call(self, text: Any) -> Any:
        """Tokenize and pack a batch of strings."""
        token_ids, _segments = self.packer(self.tokenizer(text))
        return token_ids

    def compute_output_spec(self, text: Any) -> Any:
        """Shape ``(batch, sequence_length)``, int32 (the tokenizer is not traceable symbolically)."""
        return keras.KerasTensor((text.shape[0], self.sequence_length), dtype="int32")

    def get_config(self) -> dict[str, Any]:
        """Vocabulary and settings inline (see the module docstring)."""
        return {
            **super().get_config(),
            "vocabulary": self.vocabulary,
            "sequence_length": self.sequence_length,
            "settings": dict(self.settings),
        }
