"""Entry point ``text = "zooft_text.plugin"``: the ``text-classify`` task and the text data formats.

TensorFlow-free: the task module needs only numpy at import; Keras is imported in its methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import zooft

from . import folders, tabular

TASK = "text-classify"

#: The task's options (``--option KEY=VALUE``; the old flags ``--sequence-length``,
#: ``--text-column``, ``--label-column``, ``--multi-label`` and ``--thresholds`` set them too).
OPTIONS: dict[str, zooft.Option] = {
    "sequence_length": zooft.Option(int, None, help="tokens per text incl. [CLS]/[SEP] (default 128, at most the model's)"),
    "text_column": zooft.Option(str, None, help="column (CSV/TSV) or key (JSONL) holding the text [default: text]"),
    "label_column": zooft.Option(str, None, help="column (CSV/TSV) or key (JSONL) holding the label(s) [default: label]"),
    "multi_label": zooft.Option(bool, False, help="several labels per text ('a|b' in CSV, a list in JSONL): sigmoid head"),
    "thresholds": zooft.Option(str, None, help="multi-label decision thresholds: 0.4, or label=0.3,other=0.6"),
}


def _make_task() -> Any:
    from .task import TextClassifyTask

    return TextClassifyTask()


def _custom_objects() -> dict[str, Any]:
    from .layers import LabelThresholds

    return {"zooft_text>LabelThresholds": LabelThresholds}


@zooft.hookimpl
def zooft_register_tasks(register: Callable[[zooft.TaskInfo], None]) -> None:
    """Register ``text-classify`` (text backbones with a pooled output)."""
    register(
        zooft.TaskInfo(
            name=TASK,
            factory=_make_task,
            modalities=("text",),
            requires="pooled",
            custom_objects=_custom_objects,
            options=OPTIONS,
            target_kind="class",  # "classes" (a tuple of indices) with multi_label
            description="Text classification: dropout + dense on the pooled output; single-label (softmax)"
            " or --multi-label (sigmoid, per-label thresholds); accuracy, macro-F1, per-class metrics",
        )
    )


@zooft.hookimpl
def zooft_register_datasets(register: Callable[[zooft.DatasetFormat], None]) -> None:
    """Register ``text-csv`` (.csv/.tsv), ``text-jsonl`` (.jsonl) and ``text-folder`` (DIR/<label>/*.txt)."""
    common = {"modalities": ("text",), "tasks": (TASK,)}
    register(zooft.DatasetFormat(name=tabular.CSV_FORMAT, sniff=tabular.sniff_csv, load=tabular.load_csv,
                                 description="a .csv/.tsv file with text,label[,split] columns (--text-column, --label-column)",
                                 **common))
    register(zooft.DatasetFormat(name=tabular.JSONL_FORMAT, sniff=tabular.sniff_jsonl, load=tabular.load_jsonl,
                                 description='a .jsonl file of {"text": ..., "label": ...[, "split": ...]} objects', **common))
    register(zooft.DatasetFormat(name=folders.FORMAT, sniff=folders.sniff, load=folders.load,
                                 description="DIR/<label>/*.txt, optionally under DIR/train, DIR/val, DIR/test", **common))
