"""Embedders for devices: a waveform in, VGGish embeddings or PCA features out, as LiteRT or ONNX files.

The SavedModel's front end frames with ``take`` and transforms with an
RFFT, which LiteRT runs only with TensorFlow's own kernels (Flex).
:class:`MatmulLogMelExamples` computes the same log-mel examples with
builtin operations only, as YAMNet's TFLite path does: frames gathered by
index, the windowed DFT of each frame as two matrix products (the cosine
and sine parts of its 257 bins), the magnitude, the mel matrix, the log,
then 96-frame examples gathered by index. It equals
:class:`~airtf.vggish.LogMelExamples` to about 1e-5.

:func:`embedder` builds the Keras model, (1, samples) float32 at 16 kHz of
any length (a waveform shorter than one example is zero-padded to one) to
(n, 128) float32 embeddings. :func:`export` writes it with Keras's
``model.export``: ``litert`` (a ``.tflite`` file) or ``onnx`` (tf2onnx,
which took 15.7 GB of memory for VGGish's 72 M weights; LiteRT 3.3 GB).
"""

import keras
import numpy as np
from keras import ops

from airtf import params
from airtf.audio.frames import pad_to, periodic_hann
from airtf.errors import AirtfError

FORMATS = {"litert": ".tflite", "onnx": ".onnx"}
"""Format -> the file suffix its runtime expects."""


def _gather_windows(x, window, hop):
    """Complete windows of ``window`` rows, ``hop`` apart, along axis 0 (gathered by index)."""
    count = (ops.shape(x)[0] - window) // hop + 1
    indices = ops.arange(count)[:, None] * hop + ops.arange(window)[None, :]
    return ops.take(x, indices, axis=0)


@keras.saving.register_keras_serializable(package="airtf")
class MatmulLogMelExamples(keras.layers.Layer):
    """VGGish's log-mel examples of one waveform (samples,) with builtin LiteRT operations: (n, 96, 64)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        samples = np.arange(params.STFT_WINDOW)[:, None]
        bins = np.arange(params.NUM_SPECTROGRAM_BINS)[None, :]
        window = periodic_hann(params.STFT_WINDOW)[:, None]
        angle = 2.0 * np.pi * samples * bins / params.FFT_LENGTH
        self.cosine = (window * np.cos(angle)).astype(np.float32)
        self.sine = (window * np.sin(angle)).astype(np.float32)
        from airtf.vggish.audio_converter import mel_matrix

        self.mel_weights = mel_matrix().astype(np.float32)

    def call(self, waveform):
        waveform = pad_to(waveform, params.EXAMPLE_SAMPLES)
        frames = _gather_windows(waveform, params.STFT_WINDOW, params.STFT_HOP)
        real, imaginary = ops.matmul(frames, self.cosine), ops.matmul(frames, self.sine)
        magnitude = ops.sqrt(real * real + imaginary * imaginary)
        log_mel = ops.log(ops.matmul(magnitude, self.mel_weights) + params.LOG_OFFSET)
        return _gather_windows(log_mel, params.EXAMPLE_FRAMES, params.EXAMPLE_HOP_FRAMES)

    def compute_output_shape(self, input_shape):
        return (None, params.EXAMPLE_FRAMES, params.NUM_MEL_BINS)


def embedder(backbone):
    """The Keras model of a waveform (1, samples) to ``backbone``'s embeddings of its examples, (n, 128)."""
    waveform = keras.Input((None,), batch_size=1, name="waveform")
    samples = keras.layers.Reshape((-1,), name="samples")(waveform)  # (1, samples): one waveform
    examples = MatmulLogMelExamples(name="log_mel_examples")(samples[0])
    return keras.Model(waveform, backbone(examples), name="airtf_embedder")


def export(model, path, format):
    """Write ``model`` as ``format`` ("litert" or "onnx") at ``path`` (which must carry the format's suffix)."""
    if format not in FORMATS:
        raise AirtfError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    if not str(path).endswith(FORMATS[format]):
        raise AirtfError(f"{path}: a {format} file must end in {FORMATS[format]}; name it so")
    model(np.zeros((1, params.EXAMPLE_SAMPLES), np.float32))  # the ONNX exporter traces a model that has run
    model.export(str(path), format=format, verbose=False)
    return path
