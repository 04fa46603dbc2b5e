"""``zooft.testing``: what plugin authors test with (a public module, like pytest's ``pytester``).

- :func:`isolated_host`: a plugin host with only the plugins a test names and its own
  temporary ``ZOOFT_HOME`` (the ``zooft_host`` pytest fixture wraps it);
- tiny data sets in every built-in shape: :func:`make_image_folder`, :func:`make_image_csv`,
  :func:`make_coco`, :func:`make_text_csv`, :func:`make_text_jsonl`,
  :func:`make_text_folder`;
- :func:`check_plugin`: the conformance runner. It drives everything a plugin registers
  through zooft's real code paths and raises :class:`ConformanceError` listing what the
  plugin must change.

The pytest plugin (fixtures ``zooft_host`` and ``zooft_data``) is registered through the
``pytest11`` entry point, so installing zooft is enough. Importing this module imports neither
TensorFlow nor pytest.
"""

from __future__ import annotations

from .conformance import ConformanceError, ConformanceReport, check_plugin
from .data import make_coco, make_image_csv, make_image_folder, make_text_csv, make_text_folder, make_text_jsonl
from .host import isolated_host

__all__ = [
    "ConformanceError",
    "ConformanceReport",
    "check_plugin",
    "isolated_host",
    "make_coco",
    "make_image_csv",
    "make_image_folder",
    "make_text_csv",
    "make_text_folder",
    "make_text_jsonl",
]
