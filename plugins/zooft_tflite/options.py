"""The ``tflite`` exporter's option values, read by both the plugin (at registration) and the
exporter; kept apart so that listing options never imports TensorFlow and neither module
imports the other."""

QUANTIZE_MODES = ("none", "float16", "dynamic", "int8", "int8-full")
IO_TYPES = ("uint8", "int8", "float32")  # int8-full input/output; the first is the default
# text models: one token-id input (zooft predict runs it), or BERT's ids / mask / segment_ids
# (what MediaPipe Tasks' TextClassifier and the Task Library's BertNLClassifier take)
TEXT_INPUTS = ("ids", "bert")
# Detection only: the SSD post-processing as TFLite's TFLite_Detection_PostProcess op (what
# MediaPipe / the Task Library run), or raw boxes + scores with host-side NMS.
POSTPROCESS_MODES = ("op", "raw")
