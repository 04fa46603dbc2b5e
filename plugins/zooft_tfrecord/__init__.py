"""zooft's TFRecord data formats: ``tf.train.Example`` records for detection and classification.

Detection records use the TF Object Detection API / Model Garden field names; classification
records ``image/encoded`` + ``image/class/label``. :mod:`.files` finds the records without
TensorFlow (for ``sniff``); :mod:`.reader` parses them (TensorFlow) and extracts the images once
into zooft's cache, so every later step sees ordinary image files.
"""
