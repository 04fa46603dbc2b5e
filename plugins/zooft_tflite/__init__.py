"""zooft's TFLite (LiteRT) exporter: float32, float16, dynamic-range and integer quantization."""
