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
        description="a COCO .json or its folder (annotations/instances_<split>.json + <split>/, CVAT's"
                    " annotations/ + images/, Roboflow's train/valid/test with _annotations.coco.json)",
        options=coco.OPTIONS,
    ))
    register(zooft.DatasetFormat(
        name=voc.FORMAT, sniff=voc.sniff, load=voc.load, modalities=("image",), tasks=("detect",),
        description="a Pascal VOC folder: Annotations/*.xml, JPEGImages/, optional ImageSets/Main/{train,val,test}.txt",
        options=voc.OPTIONS,
    ))
