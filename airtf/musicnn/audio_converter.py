"""musicnn's front end: log-compressed mel spectrograms cut into 3 s patches.

As musicnn computes its input (its ``extractor.batch_data``, after its FAQ):
16 kHz audio, a 512-sample periodic Hann window every 256 samples with the
frames centred (the waveform mirrored by 256 samples at both ends, librosa's
``center=True`` with the ``reflect`` padding of the librosa releases musicnn
was trained and published with), the power spectrum, librosa's 96 Slaney mel
bands (0 Hz to Nyquist, area-normalised), ``log10(10000 x + 1)``, and
non-overlapping patches of 187 frames (2.99 s). Unlike musicnn's own code,
the mel spectrogram stays float32: musicnn casts it to float16 first, which
turns every band above 6.55 into infinity.

The layers use ``keras.ops`` only (see :mod:`airtf.audio.frames`).
"""

import keras
import numpy as np
from keras import ops

from airtf.audio.frames import WindowedDFT, frame, pad_to, periodic_hann, window_count

SAMPLE_RATE = 16000
FFT_LENGTH = 512
HOP_LENGTH = 256
NUM_MEL_BINS = 96
PATCH_FRAMES = 187
"""Frames per patch: 3 s, as musicnn's models were trained."""
LOG_SCALE = 10000.0
"""The mel power is compressed as ``log10(LOG_SCALE * x + 1)``."""

_SLANEY_LINEAR_HZ_PER_MEL = 200.0 / 3.0
_SLANEY_BREAK_HZ = 1000.0
_SLANEY_LOG_STEP = np.log(6.4) / 27.0


def hertz_to_slaney_mel(hz):
    """Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, np.float64)
    linear = hz / _SLANEY_LINEAR_HZ_PER_MEL
    break_mel = _SLANEY_BREAK_HZ / _SLANEY_LINEAR_HZ_PER_MEL
    above = break_mel + np.log(np.maximum(hz, _SLANEY_BREAK_HZ) / _SLANEY_BREAK_HZ) / _SLANEY_LOG_STEP
    return np.where(hz >= _SLANEY_BREAK_HZ, above, linear)


def slaney_mel_to_hertz(mel):
    """The inverse of :func:`hertz_to_slaney_mel`."""
    mel = np.asarray(mel, np.float64)
    break_mel = _SLANEY_BREAK_HZ / _SLANEY_LINEAR_HZ_PER_MEL
    above = _SLANEY_BREAK_HZ * np.exp(_SLANEY_LOG_STEP * (mel - break_mel))
    return np.where(mel >= break_mel, above, mel * _SLANEY_LINEAR_HZ_PER_MEL)


def mel_filters(sample_rate=SAMPLE_RATE, fft_length=FFT_LENGTH, num_mel_bins=NUM_MEL_BINS):
    """librosa's default mel filter bank, transposed: (fft_length // 2 + 1, num_mel_bins), float64.

    Triangles between ``num_mel_bins + 2`` edges evenly spaced in Slaney mel
    from 0 Hz to Nyquist, in Hz, each scaled to unit area (``2 / width``).
    """
    bin_hz = np.linspace(0.0, sample_rate / 2.0, fft_length // 2 + 1)[:, None]
    edges = slaney_mel_to_hertz(np.linspace(0.0, hertz_to_slaney_mel(sample_rate / 2.0), num_mel_bins + 2))
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_hz - lower) / (center - lower)
    falling = (upper - bin_hz) / (upper - center)
    return np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (upper - lower))


@keras.saving.register_keras_serializable(package="airtf")
class MusicnnPatches(keras.layers.Layer):
    """Waveform to musicnn's input: (samples,) at 16 kHz to patches (n, 187, 96).

    The input is the waveform with its edges already mirrored
    (``edge_samples`` at each end, :func:`airtf.audio.mirrored_edges`): the
    feature engine streams it so. :func:`patches_of_waveform` does it for a
    waveform in memory. Any number of samples, including an unknown one;
    ``n`` may be 0.

    Parameters
    ----------
    pad : bool
        Zero-pad a waveform too short for one patch to one patch (a file's
        silence after its end); longer waveforms are never padded and a
        trailing partial patch is dropped, as musicnn drops it.
    patch_frames : int
        Frames per patch (187).
    hop_frames : int or None
        Frames from one patch to the next (default ``patch_frames``: no
        overlap, as musicnn's default; 16 ms each).
    dft : str
        "rfft", or "matmul" and "matmul-runtime" for ONNX and LiteRT files
        (see :class:`airtf.audio.frames.WindowedDFT`).
    **kwargs
        Passed to ``keras.layers.Layer``; ``dtype`` defaults to float32.

    Attributes
    ----------
    example_samples, hop_samples, edge_samples, example_shape, frame_samples
        The framing, as every front end of the feature engine states it
        (see :class:`airtf.vggish.LogMelExamples`).
    """

    def __init__(self, pad=False, patch_frames=PATCH_FRAMES, hop_frames=None, dft="rfft", **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.pad = pad
        self.patch_frames = patch_frames
        self.hop_frames = hop_frames or patch_frames
        self.dft = dft
        self.spectrum = WindowedDFT(periodic_hann(FFT_LENGTH), FFT_LENGTH, dft)
        self.mel_weights = mel_filters().astype(np.float32)
        self.example_samples = FFT_LENGTH + (patch_frames - 1) * HOP_LENGTH
        self.hop_samples = self.hop_frames * HOP_LENGTH
        self.edge_samples = FFT_LENGTH // 2
        self.frame_samples = HOP_LENGTH
        self.example_shape = (patch_frames, NUM_MEL_BINS)

    def log_mel(self, waveform):
        """(..., samples) mirrored waveform -> (..., frames, 96) log-compressed mel power."""
        power = self.spectrum.power(frame(waveform, FFT_LENGTH, HOP_LENGTH, axis=-1))
        return ops.log10(LOG_SCALE * ops.matmul(power, self.spectrum.matrix(self.mel_weights, power)) + 1.0)

    def call(self, waveform):
        if self.pad:
            waveform = pad_to(waveform, self.example_samples)
        return frame(self.log_mel(waveform), self.patch_frames, self.hop_frames, axis=-2)

    def compute_output_shape(self, input_shape):
        samples = input_shape[-1]
        if samples is not None and self.pad:
            samples = max(samples, self.example_samples)
        count = None if samples is None else window_count(samples, self.example_samples, self.hop_samples)
        return (*input_shape[:-1], count, *self.example_shape)

    def get_config(self):
        return {**super().get_config(), "pad": self.pad, "patch_frames": self.patch_frames,
                "hop_frames": self.hop_frames, "dft": self.dft}


def patches_of_waveform(waveform, pad=False):
    """musicnn's input patches of a 16 kHz mono waveform in memory: (n, 187, 96) float32, numpy."""
    layer = MusicnnPatches(pad=pad)
    waveform = np.asarray(waveform, np.float32)
    mirrored = np.pad(waveform, layer.edge_samples, mode="reflect" if len(waveform) > 1 else "edge")
    return ops.convert_to_numpy(layer(mirrored))
