"""zooft's SavedModel exporter: a TensorFlow SavedModel taking raw images (float32 and uint8)."""
