"""zooft's image data formats: class folders (``image-folder``) and CSV files (``csv``).

Both formats only *index* files (paths plus labels); the host's data check opens them and the
training core streams them through tf.data. This package never imports TensorFlow.
"""

from __future__ import annotations

__all__ = ["IGNORED_NAMES", "IMAGE_EXTENSIONS"]

#: File extensions the ``image-folder`` format takes for images (compared in lower case):
#: the formats TensorFlow's ``decode_image`` reads.
IMAGE_EXTENSIONS: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif"})

#: Operating-system litter that is silently ignored, like hidden files (names starting with '.').
IGNORED_NAMES: frozenset[str] = frozenset({"__MACOSX", "Thumbs.db", "desktop.ini"})
