"""Entry point ``coco = "zooft_coco.plugin"``: registers the ``coco`` and ``voc`` data formats."""

from __future__ import annotations

from collections.abc import Callable

import zooft

from . import coco, voc


@zooft.hookimpl
def zooft_register_datasets(register: Callable[[zooft.DatasetFormat], None]) -> None:
    """Register COCO JSON and Pascal VOC XML, both serving the ``detect`` task."""
    register(zooft.DatasetFormat(
        name=coco.FORMAT, sniff=coco.sniff, load=coco.load, modalities=("image",), tasks=("detect",),
        description="COCO JSON (images, annotations with bbox, categories); train/val/test.json for splits",
    ))
    register(zooft.DatasetFormat(
        name=voc.FORMAT, sniff=voc.sniff, load=voc.load, modalities=("image",), tasks=("detect",),
        description="Pascal VOC folder: Annotations/*.xml, JPEGImages/, ImageSets/Main/{train,val,test}.txt",
    ))
