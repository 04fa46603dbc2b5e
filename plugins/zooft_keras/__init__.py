"""zooft's first-party ``keras`` backbone plugin (``keras.applications`` as zooft backbones).

The entry point is :mod:`zooft_keras.plugin`. Nothing in this package imports TensorFlow at
import time.
"""

from __future__ import annotations

from .backbone import build_backbone
from .weights import KNOWN_APPLICATIONS, fetch_weights, imagenet_file

__all__ = ["KNOWN_APPLICATIONS", "build_backbone", "fetch_weights", "imagenet_file"]
