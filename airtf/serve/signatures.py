"""The names an export's entry points and outputs go by, shared by the code that writes and runs them.

Imports nothing heavy, so that running a LiteRT or ONNX file
(:mod:`airtf.serve.runtimes`) loads neither Keras nor TensorFlow.
"""

SERVING_SIGNATURE = "serving_default"
OUTPUTS = ("probabilities", "frame_probabilities", "attention", "timestamps", "features", "log_mel")
"""Outputs of the serving entry point, in the order :mod:`airtf.serve.export` describes them."""

FORMATS = {"litert": ".tflite", "onnx": ".onnx"}
"""Device format -> the file suffix its runtime expects."""
METADATA_NAME = "airtf"
"""The JSON document a LiteRT or ONNX recogniser carries about itself."""
SEGMENT_SIGNATURE = "frame_features"
CHUNK_SIGNATURE = "chunk_scores"
CHUNK_OUTPUTS = ("chunk_mean", "chunk_variance", "chunk_attention_weights", "chunk_frame_probabilities")
