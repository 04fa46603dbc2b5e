"""The ``tflite`` exporter's option values, read by both the plugin (at registration) and the
exporter; kept apart so that listing options never imports TensorFlow and neither module
imports the other."""

QUANTIZE_MODES = ("none", "float16", "dynamic", "int8", "int8-full")
IO_TYPES = ("int8", "uint8")
