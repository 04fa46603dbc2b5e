"""Offline demo material for zooft: procedural image generators (numpy + Pillow only).

Nothing in this package imports TensorFlow, so data sets can be generated (and tested) quickly.
"""

from zooft.demo.synthetic import DEMO_CLASSIFY_CLASSES, render_demo_image, write_classify_demo

__all__ = [
    "DEMO_CLASSIFY_CLASSES",
    "render_demo_image",
    "write_classify_demo",
]
