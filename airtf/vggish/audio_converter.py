"""The VGGish log-mel front end and the framing into 0.96 s examples.

This mirrors the official AudioSet VGGish input pipeline (``mel_features.py``
and ``vggish_input.py``): a periodic Hann window of 25 ms every 10 ms, the
magnitude of a 512-point FFT, 64 HTK mel bands from 125 Hz to 7500 Hz and
``log(mel + 0.01)``, then non-overlapping windows of 96 frames. As in the
official code, the signal is not padded: incomplete frames and incomplete
examples are dropped, so audio shorter than 15,600 samples (0.975 s) gives no
examples unless ``pad=True`` asks for it to be zero-padded to one.

The layers use ``keras.ops`` only, so they run under the TensorFlow backend
(eagerly, in ``tf.data.Dataset.map`` and in a SavedModel signature with an
unknown number of samples) and under the JAX backend.
"""

import functools
import warnings

import keras
import numpy as np
from keras import ops

from airtf.audio.frames import WindowedDFT, frame, pad_to, periodic_hann, window_count
from airtf.errors import AudioTooShortWarning
from airtf.params import (
    EXAMPLE_FRAMES,
    EXAMPLE_HOP_FRAMES,
    EXAMPLE_HOP_SECONDS,
    FFT_LENGTH,
    LOG_OFFSET,
    MEL_BREAK_HZ,
    MEL_HIGH_Q,
    MEL_MAX_HZ,
    MEL_MIN_HZ,
    NUM_MEL_BINS,
    NUM_SPECTROGRAM_BINS,
    SAMPLE_RATE,
    STFT_HOP,
    STFT_WINDOW,
)


def hertz_to_mel(hz):
    """Convert frequencies to the HTK mel scale, ``1127 ln(1 + hz / 700)``.

    Parameters
    ----------
    hz : float or array_like
        Frequencies in Hz.

    Returns
    -------
    np.ndarray
        The same frequencies in mel, float64.
    """
    return MEL_HIGH_Q * np.log1p(np.asarray(hz, dtype=np.float64) / MEL_BREAK_HZ)


def mel_matrix(
    num_spectrogram_bins=NUM_SPECTROGRAM_BINS,
    num_mel_bins=NUM_MEL_BINS,
    sample_rate=SAMPLE_RATE,
    lower_hz=MEL_MIN_HZ,
    upper_hz=MEL_MAX_HZ,
):
    """Triangular mel weights that map spectrogram bins to mel bands.

    Band ``i`` rises from mel edge ``i`` to edge ``i + 1`` and falls to edge
    ``i + 2``, the ``num_mel_bins + 2`` edges being evenly spaced in mel between
    ``lower_hz`` and ``upper_hz``. The DC bin gets no weight.

    Parameters
    ----------
    num_spectrogram_bins : int
        Bins of the magnitude spectrogram, evenly spaced from 0 Hz to Nyquist
        (257 for a 512-point FFT).
    num_mel_bins : int
        Mel bands (64).
    sample_rate : int
        Sample rate of the waveform, in Hz (16000).
    lower_hz, upper_hz : float
        Lower edge of the lowest band and upper edge of the highest band, in
        Hz (125 and 7500).

    Returns
    -------
    np.ndarray
        float64 weights of shape ``(num_spectrogram_bins, num_mel_bins)``;
        ``spectrogram @ weights`` is the mel spectrogram.

    Raises
    ------
    ValueError
        If ``0 <= lower_hz < upper_hz <= sample_rate / 2`` does not hold.
    """
    nyquist_hz = sample_rate / 2.0
    if not 0.0 <= lower_hz < upper_hz <= nyquist_hz:
        raise ValueError(
            f"mel bands need 0 <= lower_hz < upper_hz <= {nyquist_hz} (Nyquist); "
            f"got lower_hz={lower_hz}, upper_hz={upper_hz}"
        )
    bin_mels = hertz_to_mel(np.linspace(0.0, nyquist_hz, num_spectrogram_bins))[:, None]
    edges = np.linspace(hertz_to_mel(lower_hz), hertz_to_mel(upper_hz), num_mel_bins + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_mels - lower) / (center - lower)
    falling = (upper - bin_mels) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return weights


def frame_examples(log_mel, example_frames=EXAMPLE_FRAMES, hop_frames=EXAMPLE_HOP_FRAMES):
    """Cut a log-mel spectrogram into examples of ``example_frames`` frames.

    Parameters
    ----------
    log_mel : tensor
        Shape ``(..., frames, bands)``, e.g. ``(frames, 64)``.
    example_frames : int
        Frames per example (96, 0.96 s).
    hop_frames : int
        Frames from the start of one example to the next (96).

    Returns
    -------
    tensor
        Shape ``(..., n, example_frames, bands)`` with
        ``n = 1 + (frames - example_frames) // hop_frames``, or 0 when
        ``frames < example_frames``; the trailing partial example is dropped.
    """
    return frame(log_mel, example_frames, hop_frames, axis=-2)


@keras.saving.register_keras_serializable(package="airtf")
class LogMel(keras.layers.Layer):
    """Log-mel spectrogram of 16 kHz waveforms, as the official VGGish computes it.

    Input shape ``(..., samples)`` (usually ``(batch, samples)``), any number
    of samples, including an unknown one; output shape
    ``(..., frames, num_mel_bins)`` with
    ``frames = 1 + (samples - window_length) // hop_length``, or 0 frames when
    ``samples < window_length``. Each waveform is processed on its own, so a
    row of the output does not depend on the rest of the batch. The window and
    the mel matrix are constants built at construction, not weights.

    Parameters
    ----------
    sample_rate : int
        Sample rate of the input, in Hz (16000).
    window_length : int
        Samples per STFT frame (400, 25 ms), windowed by a periodic Hann window.
    hop_length : int
        Samples from one frame to the next (160, 10 ms).
    fft_length : int
        FFT size (512); frames are zero-padded to it.
    num_mel_bins : int
        Mel bands (64).
    lower_hz, upper_hz : float
        Frequency range of the mel bands, in Hz (125 and 7500).
    log_offset : float
        Added to the mel spectrogram before the log (0.01).
    dft : str
        "rfft" (TensorFlow's RFFT), or "matmul" and "matmul-runtime" for ONNX
        and LiteRT files (see :class:`airtf.audio.frames.WindowedDFT`).
    **kwargs
        Passed to ``keras.layers.Layer``; ``dtype`` defaults to ``"float32"``
        so that a mixed-precision policy does not lower the front end's
        precision.
    """

    def __init__(
        self,
        sample_rate=SAMPLE_RATE,
        window_length=STFT_WINDOW,
        hop_length=STFT_HOP,
        fft_length=FFT_LENGTH,
        num_mel_bins=NUM_MEL_BINS,
        lower_hz=MEL_MIN_HZ,
        upper_hz=MEL_MAX_HZ,
        log_offset=LOG_OFFSET,
        dft="rfft",
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if fft_length < window_length:
            raise ValueError(
                f"fft_length ({fft_length}) must be at least window_length ({window_length})"
            )
        self.sample_rate = sample_rate
        self.window_length = window_length
        self.hop_length = hop_length
        self.fft_length = fft_length
        self.num_mel_bins = num_mel_bins
        self.lower_hz = lower_hz
        self.upper_hz = upper_hz
        self.log_offset = log_offset
        self.dft = dft
        self.spectrum = WindowedDFT(periodic_hann(window_length), fft_length, dft)
        self.mel_weights = mel_matrix(
            fft_length // 2 + 1, num_mel_bins, sample_rate, lower_hz, upper_hz
        ).astype(np.float32)

    def call(self, waveform):
        frames = frame(waveform, self.window_length, self.hop_length, axis=-1)
        magnitude = ops.sqrt(self.spectrum.power(frames))
        return ops.log(ops.matmul(magnitude, self.spectrum.matrix(self.mel_weights, magnitude)) + self.log_offset)

    def compute_output_shape(self, input_shape):
        samples = input_shape[-1]
        frames = (
            None
            if samples is None
            else window_count(samples, self.window_length, self.hop_length)
        )
        return (*input_shape[:-1], frames, self.num_mel_bins)

    def get_config(self):
        config = super().get_config()
        config.update(
            sample_rate=self.sample_rate,
            window_length=self.window_length,
            hop_length=self.hop_length,
            fft_length=self.fft_length,
            num_mel_bins=self.num_mel_bins,
            lower_hz=self.lower_hz,
            upper_hz=self.upper_hz,
            log_offset=self.log_offset,
            dft=self.dft,
        )
        return config


@keras.saving.register_keras_serializable(package="airtf")
class LogMelExamples(LogMel):
    """Waveform to VGGish input examples: :class:`LogMel`, then :func:`frame_examples`.

    Input shape ``(samples,)`` (one waveform of any length) or
    ``(..., samples)``; output shape ``(n, example_frames, num_mel_bins)``
    (with the same leading axes), ``n`` possibly 0.

    Parameters
    ----------
    pad : bool
        If true, a waveform too short for one example is zero-padded at its
        end to exactly one example (15,600 samples with the defaults); longer
        waveforms are never padded, and a trailing partial example is dropped.
        If false (the official behaviour), short waveforms give 0 examples.
    example_frames : int
        Frames per example (96).
    hop_frames : int
        Frames from one example to the next (96).
    **kwargs
        The :class:`LogMel` arguments.

    Attributes
    ----------
    example_samples, hop_samples, edge_samples, example_shape, frame_samples
        The framing, as every front end of the feature engine states it:
        samples per example and between examples, samples mirrored at each
        end (none here), one example's shape, and the samples from one
        frame to the next (a hop is a whole number of them).
    """

    def __init__(
        self, pad=False, example_frames=EXAMPLE_FRAMES, hop_frames=EXAMPLE_HOP_FRAMES, **kwargs
    ):
        super().__init__(**kwargs)
        self.pad = pad
        self.example_frames = example_frames
        self.hop_frames = hop_frames
        self.example_samples = self.window_length + (example_frames - 1) * self.hop_length
        self.hop_samples = hop_frames * self.hop_length
        self.edge_samples = 0  # frames are not centred: the waveform is framed as it is
        self.frame_samples = self.hop_length
        self.example_shape = (example_frames, self.num_mel_bins)

    def call(self, waveform):
        if self.pad:
            waveform = pad_to(waveform, self.example_samples)
        return frame_examples(super().call(waveform), self.example_frames, self.hop_frames)

    def compute_output_shape(self, input_shape):
        samples = input_shape[-1]
        if self.pad and samples is not None:
            samples = max(samples, self.example_samples)
        *leading, frames, bands = super().compute_output_shape((*input_shape[:-1], samples))
        count = (
            None
            if frames is None
            else window_count(frames, self.example_frames, self.hop_frames)
        )
        return (*leading, count, self.example_frames, bands)

    def get_config(self):
        config = super().get_config()
        config.update(pad=self.pad, example_frames=self.example_frames, hop_frames=self.hop_frames)
        return config


@functools.lru_cache(maxsize=None)
def _examples_layer(pad):
    """One shared :class:`LogMelExamples` per ``pad``, built on first use."""
    return LogMelExamples(pad=pad)


def waveform_to_examples(waveform, sample_rate=SAMPLE_RATE, *, pad=False, resampler="resampy"):
    """VGGish input examples of a waveform, numpy in and numpy out.

    Parameters
    ----------
    waveform : array_like
        Float samples in [-1, 1], shape ``(samples,)`` or
        ``(samples, channels)``; channels are averaged.
    sample_rate : int
        Sample rate of ``waveform``, in Hz; other rates than 16000 are
        resampled with :func:`airtf.audio.resample`.
    pad : bool
        Zero-pad audio shorter than one example to one example (see
        :class:`LogMelExamples`).
    resampler : str
        Passed to :func:`airtf.audio.resample` ("resampy", as the official
        code).

    Returns
    -------
    np.ndarray
        float32 examples of shape ``(n, 96, 64)``.

    Warns
    -----
    AudioTooShortWarning
        When the audio gives no examples.
    """
    waveform = np.asarray(waveform)
    if waveform.ndim == 2:
        waveform = waveform.mean(axis=1)
    elif waveform.ndim != 1:
        raise ValueError(
            f"expected a waveform of shape (samples,) or (samples, channels), got {waveform.shape}"
        )
    if sample_rate != SAMPLE_RATE:
        from airtf import audio

        waveform = audio.resample(waveform, sample_rate, resampler=resampler)
    examples = _examples_layer(pad)(np.asarray(waveform, dtype=np.float32))
    examples = ops.convert_to_numpy(examples)
    if len(examples) == 0:
        warnings.warn(
            f"{AudioTooShortWarning.describe(len(waveform))} and gives no examples; pass pad=True to zero-pad "
            "it to one",
            AudioTooShortWarning,
            stacklevel=2,
        )
    return examples


def example_time_points(count, hop_seconds=EXAMPLE_HOP_SECONDS):
    """Start times of ``count`` examples in seconds, as OpenMIC-2018's JSON gives them.

    Returns
    -------
    list of float
        ``[0.0, 0.96, 1.92, ...]`` (``k * hop_seconds``), each rounded to 2 decimals.
    """
    return [round(k * hop_seconds, 2) for k in range(count)]
