"""zooft's ONNX exporter: tf2onnx conversion, checked with onnxruntime."""
