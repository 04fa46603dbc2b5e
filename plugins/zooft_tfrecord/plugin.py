"""Entry point ``tfrecord = "zooft_tfrecord.plugin"``: the ``tfrecord-detect`` and ``tfrecord-classify`` data formats.

Two formats over the same files because a record set serves one task and a format's ``load`` is
not told the task: each is offered only to its task, so sniffing picks the right one.
"""

from __future__ import annotations

from collections.abc import Callable

import zooft

from . import files, reader


@zooft.hookimpl
def zooft_register_datasets(register: Callable[[zooft.DatasetFormat], None]) -> None:
    """Register TFRecord data for ``detect`` (Object Detection API fields) and ``classify``."""
    register(zooft.DatasetFormat(
        name="tfrecord-detect", sniff=files.sniff, load=reader.load_detect, modalities=("image",), tasks=("detect",),
        description="TFRecord files (.tfrecord/.record, -00000-of-00004 shards, or a folder of them) of tf.train.Example"
                    " with the TF Object Detection API fields (image/encoded, image/object/bbox/*, image/object/class/*),"
                    " optional label_map.pbtxt beside them",
    ))
    register(zooft.DatasetFormat(
        name="tfrecord-classify", sniff=files.sniff, load=reader.load_classify, modalities=("image",), tasks=("classify",),
        description="TFRecord files (.tfrecord/.record, shards, or a folder of them) of tf.train.Example with"
                    " image/encoded and image/class/label or image/class/text, optional label_map.pbtxt",
    ))
