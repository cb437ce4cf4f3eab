"""LiteRT and ONNX files: recognisers and embedders that run without TensorFlow.

A recogniser file holds what the SavedModel of :mod:`airtf.serve.export`
holds, computed with operations LiteRT runs as builtins and ONNX Runtime
runs natively:

- the front end with the DFT as two matrix products and frames gathered by
  index (:class:`airtf.audio.frames.WindowedDFT`, as YAMNet's TFLite path),
  kept float32 in a quantised LiteRT file;
- the backbone, and min-max normalisation or PCA as the run had them; PCA in
  float32 (LiteRT has no float64 kernels; the SavedModel projects in float64
  as the official post-processor does, so a quantised value near a step can
  land one step, 1/255, away);
- the classifier with GroupNormalization's statistics taken over the whole
  waveform, and its attention pooling.

Three entry points, a LiteRT signature each (ONNX: one graph, its input
``waveform`` and three more with defaults, so that a caller feeds those it
uses: one example of silence for ``segment``, one zero frame for ``chunk``,
zero ``statistics``; ONNX Runtime computes every output at each call):

``serving_default``: ``waveform`` (samples,) float32 at 16 kHz, any length
    -> the outputs of :data:`airtf.serve.export.OUTPUTS`.
``frame_features``: ``segment``, a piece of a waveform of whole examples
    with its edges mirrored as :func:`airtf.audio.segments_for` cuts them ->
    ``segment_features`` (t, D).
``chunk_scores``: ``chunk`` (t, D) frame features of a clip and the clip's
    ``statistics`` (layers, groups, 2) -> ``chunk_mean`` and
    ``chunk_variance`` (layers, groups) of every GroupNormalization layer
    given the statistics of the layers before it, and
    ``chunk_attention_weights`` and ``chunk_frame_probabilities`` (t, C).

The last two let :mod:`airtf.serve.predict` go over audio of any length in
bounded memory. What the file was made from (class names, framing,
statistics' shape) is a JSON document, :data:`METADATA_NAME`, in the LiteRT
file's metadata or the ONNX file's ``metadata_props``.

:func:`embedder` is the VGGish embedder: (1, samples) -> (n, 128), embeddings or
PCA features.
"""

import json
import tempfile
import warnings
from pathlib import Path

import keras
import numpy as np
from keras import ops

from airtf import params
from airtf.audio.frames import with_hop
from airtf.errors import AirtfError
from airtf.serve.signatures import (CHUNK_OUTPUTS, CHUNK_SIGNATURE, FORMATS, METADATA_NAME, SEGMENT_SIGNATURE,
                                    SERVING_SIGNATURE)
from airtf.vggish.audio_converter import LogMelExamples
from airtf.vggish.postprocess import PCAQuantize

DFT_METHODS = {"litert": "matmul-runtime", "onnx": "matmul"}
"""Format -> how its front end computes the DFT (see :class:`airtf.audio.frames.WindowedDFT`)."""
QUANTIZATIONS = ("float16", "dynamic-int8")
"""LiteRT's post-training quantisations: float16 weights, or int8 weights with float activations."""


def portable_front_end(front_end, format):
    """A copy of a front end's layer that computes its DFT as matrix products, as ``format`` needs."""
    return type(front_end).from_config({**front_end.get_config(), "dft": DFT_METHODS[format]})


def float32_pca(feature_model):
    """``feature_model`` with its PCA projected in float32 instead of float64 (itself when it has no PCA)."""
    def float32_copy(layer):
        if not isinstance(layer, PCAQuantize):
            return layer
        copy = PCAQuantize.from_config({**layer.get_config(), "dtype": "float32"})
        copy.means.assign(ops.cast(layer.means, "float32"))
        copy.eigen_vectors.assign(ops.cast(layer.eigen_vectors, "float32"))
        return copy

    if not any(isinstance(layer, PCAQuantize) for layer in feature_model.layers):
        return feature_model
    return keras.models.clone_model(feature_model, clone_function=float32_copy)


def portable_pipeline(pipeline, format):
    """The :class:`~airtf.serve.export.Pipeline` ``pipeline`` with builtin operations of ``format`` only."""
    from airtf.serve.export import Pipeline

    return Pipeline(float32_pca(pipeline.feature_model), pipeline.classifier, pipeline.class_names,
                    portable_front_end(pipeline.examples, format))


def chunk_outputs(pipeline, chunk, statistics):
    """The :data:`CHUNK_OUTPUTS` of a chunk of a clip's frame features, as backend tensors."""
    classifier = pipeline.classifier
    if pipeline.statistics_layers:
        moments = [classifier.group_moments(chunk, statistics, layer) for layer in range(pipeline.statistics_layers)]
        mean, variance = ops.stack([m for m, _ in moments]), ops.stack([v for _, v in moments])
    else:  # BatchNormalization: nothing to gather
        mean = variance = ops.zeros(pipeline.statistics_shape[:2])
    weights, probabilities = classifier.chunk_scores(chunk, statistics)
    return dict(zip(CHUNK_OUTPUTS, (mean, variance, weights, probabilities)))


def metadata(pipeline, format, quantize=None):
    """What a recogniser file says about itself (see :mod:`airtf.serve.runtimes`)."""
    return {"airtf": params.VERSION, "format": format, "quantize": quantize, "class_names": pipeline.class_names,
            "frame_hop_seconds": pipeline.frame_hop_seconds, "sample_rate": params.SAMPLE_RATE,
            "statistics_shape": list(pipeline.statistics_shape), "statistics_layers": pipeline.statistics_layers,
            "feature_size": pipeline.feature_size, "example_samples": pipeline.example_samples,
            "hop_samples": pipeline.hop_samples, "edge_samples": pipeline.edge_samples}


def segment_outputs(pipeline, segment):
    """``segment_features`` (t, D) of a waveform segment of whole examples, its edges already mirrored."""
    return {"segment_features": pipeline.segment_features(segment)}


def _specs(pipeline):
    """The inputs: waveform, segment, chunk, statistics."""
    import tensorflow as tf

    return (tf.TensorSpec([None], tf.float32, name="waveform"), tf.TensorSpec([None], tf.float32, name="segment"),
            tf.TensorSpec([None, pipeline.feature_size], tf.float32, name="chunk"),
            tf.TensorSpec(pipeline.statistics_shape, tf.float32, name="statistics"))


def _litert_bytes(pipeline, quantize):
    """The recogniser as a LiteRT flatbuffer with its three signatures, builtin operations only.

    Through Keras's ExportArchive, as ``model.export(format="litert")`` goes:
    it tracks the Keras variables so that the converter reads their values
    (a ``tf.Module`` holding the models gave LiteRT their initial values).
    """
    import tensorflow as tf

    waveform, segment, chunk, statistics = _specs(pipeline)
    archive = keras.export.ExportArchive()
    archive.track(pipeline.feature_model)
    archive.track(pipeline.classifier)
    archive.add_endpoint(SERVING_SIGNATURE, pipeline.outputs, input_signature=[waveform])
    archive.add_endpoint(SEGMENT_SIGNATURE, lambda segment: segment_outputs(pipeline, segment),
                         input_signature=[segment])
    archive.add_endpoint(CHUNK_SIGNATURE, lambda chunk, statistics: chunk_outputs(pipeline, chunk, statistics),
                         input_signature=[chunk, statistics])
    with tempfile.TemporaryDirectory() as scratch:  # the signatures share the weights: one copy in the file
        archive.write_out(scratch, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            scratch, signature_keys=[SERVING_SIGNATURE, SEGMENT_SIGNATURE, CHUNK_SIGNATURE])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        return converter.convert()


def _with_litert_metadata(flatbuffer, document):
    """The LiteRT flatbuffer with ``document`` as JSON in its metadata, named :data:`METADATA_NAME`."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(flatbuffer)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(document).encode(), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = METADATA_NAME, len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


class _Recognizer(keras.Model):
    """The pipeline's every output of (waveform, segment, chunk, statistics), for Keras's ONNX export."""

    def __init__(self, pipeline):
        super().__init__(name="airtf_recognizer")
        self.pipeline = pipeline
        self.feature_model, self.classifier = pipeline.feature_model, pipeline.classifier

    def call(self, waveform, segment, chunk, statistics):
        return {**self.pipeline.outputs(waveform), **segment_outputs(self.pipeline, segment),
                **chunk_outputs(self.pipeline, chunk, statistics)}


def _onnx_model(pipeline, document):
    """The recogniser as one ONNX graph: inputs waveform, and segment, chunk and statistics with defaults."""
    import onnx
    from onnx import numpy_helper

    defaults = {"waveform": np.zeros(pipeline.example_samples, np.float32),
                "segment": np.zeros(pipeline.example_samples, np.float32),
                "chunk": np.zeros((1, pipeline.feature_size), np.float32),
                "statistics": np.zeros(pipeline.statistics_shape, np.float32)}
    recognizer = _Recognizer(pipeline)
    recognizer(*defaults.values())
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "recognizer.onnx"
        _keras_export(recognizer, path, "onnx", input_signature=list(_specs(pipeline)))
        model = onnx.load(str(path))
    inputs = {graph_input.name for graph_input in model.graph.input}
    for name, value in defaults.items():
        if name != "waveform" and name in inputs:  # the converter drops an input no output reads
            model.graph.initializer.append(numpy_helper.from_array(value, name))
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_NAME, json.dumps(document)
    return model


def write_recognizer(pipeline, path, format, quantize=None):
    """Write the recogniser ``pipeline`` (made portable here) as ``format`` at ``path``, not atomically.

    Returns
    -------
    dict
        The metadata written into the file.
    """
    check_format(path, format, quantize)
    pipeline = portable_pipeline(pipeline, format)
    pipeline.outputs(np.zeros(pipeline.example_samples, np.float32))  # builds every layer before tracing
    document = metadata(pipeline, format, quantize)
    if format == "litert":
        Path(path).write_bytes(_with_litert_metadata(_litert_bytes(pipeline, quantize), document))
    else:
        import onnx

        onnx.save(_onnx_model(pipeline, document), str(path))
    return document


def check_format(path, format, quantize=None):
    """Raise AirtfError unless ``format`` is known, ``path`` has its suffix and ``quantize`` applies."""
    if format not in FORMATS:
        raise AirtfError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    if not str(path).endswith(FORMATS[format]):
        raise AirtfError(f"{path}: a {format} file must end in {FORMATS[format]}; name it so")
    if quantize is not None and (format != "litert" or quantize not in QUANTIZATIONS):
        raise AirtfError(f"--quantize {quantize}: LiteRT files only, one of {', '.join(QUANTIZATIONS)}")


def embedder(backbone, format="litert", pca_params=None, hop=None):
    """The Keras model of a waveform (1, samples) to ``backbone``'s embeddings of its examples, (n, 128).

    A waveform shorter than one example is zero-padded to one; the front end
    computes its DFT as ``format`` needs and starts an example every ``hop``
    seconds (default 0.96). With ``pca_params`` (an official-format PCA file)
    the output is the post-processed embedding, (n, 128) uint8, projected in
    float32 (see :func:`float32_pca`).
    """
    waveform = keras.Input((None,), batch_size=1, name="waveform")
    samples = keras.layers.Reshape((-1,), name="samples")(waveform)  # (1, samples): one waveform
    front_end = with_hop(LogMelExamples(pad=True, dft=DFT_METHODS[format], name="log_mel_examples"), hop)
    embeddings = backbone(front_end(samples[0]))
    if pca_params is not None:
        embeddings = ops.cast(PCAQuantize.from_file(pca_params, dtype="float32", name="pca")(embeddings), "uint8")
    return keras.Model(waveform, embeddings, name="airtf_embedder")


def export(model, path, format, quantize=None):
    """Write the Keras model ``model`` (an :func:`embedder`) as ``format`` at ``path``.

    Keras's ``model.export`` writes it (tf2onnx for ONNX, which took 15.7 GB of
    memory for VGGish's 72 M weights; LiteRT 3.3 GB).
    """
    check_format(path, format, quantize)
    model(np.zeros((1, params.EXAMPLE_SAMPLES), np.float32))  # the ONNX exporter traces a model that has run
    options = {}
    if quantize:
        import tensorflow as tf

        options["optimizations"] = [tf.lite.Optimize.DEFAULT]
        options.update({"target_spec": {"supported_types": [tf.float16]}} if quantize == "float16" else {})
    _keras_export(model, path, format, **options)
    return path


def _keras_export(model, path, format, **options):
    """``model.export``, quiet about the numpy alias that Keras's tf2onnx patch looks up (a FutureWarning)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"In the future `np\.object`", category=FutureWarning)
        model.export(str(path), format=format, verbose=False, **options)
