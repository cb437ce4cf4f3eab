"""A plain-numpy VGGish front end, written from the spec, for tests only.

It imports nothing from airtf and shares no code with airtf.vggish.audio_converter, so a
bug in one is not silently repeated in the other. Everything is float64.
"""

import math

import numpy as np

SAMPLE_RATE = 16000
WINDOW = 400
HOP = 160
FFT_LENGTH = 512
NUM_BINS = FFT_LENGTH // 2 + 1
NUM_MEL = 64
LOWER_HZ = 125.0
UPPER_HZ = 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96
EXAMPLE_HOP = 96


def htk_mel(hz):
    """Hertz to HTK mel: 1127 ln(1 + f / 700)."""
    return 1127.0 * math.log(1.0 + hz / 700.0)


def frames(signal, window, hop):
    """Strided view of the complete frames of ``signal`` along axis 0."""
    count = 1 + (len(signal) - window) // hop if len(signal) >= window else 0
    shape = (count, window) + signal.shape[1:]
    strides = (hop * signal.strides[0],) + signal.strides
    return np.lib.stride_tricks.as_strided(signal, shape, strides, writeable=False)


def periodic_hann(length):
    """0.5 - 0.5 cos(2 pi n / length), n = 0 .. length - 1."""
    return np.array([0.5 - 0.5 * math.cos(2.0 * math.pi * n / length) for n in range(length)])


def mel_matrix():
    """The (257, 64) mel weights, built with explicit loops."""
    nyquist = SAMPLE_RATE / 2.0
    bin_mels = [htk_mel(nyquist * k / (NUM_BINS - 1)) for k in range(NUM_BINS)]
    low, high = htk_mel(LOWER_HZ), htk_mel(UPPER_HZ)
    edges = [low + (high - low) * i / (NUM_MEL + 1) for i in range(NUM_MEL + 2)]
    weights = np.zeros((NUM_BINS, NUM_MEL))
    for band in range(NUM_MEL):
        lower, center, upper = edges[band], edges[band + 1], edges[band + 2]
        for k in range(1, NUM_BINS):
            rising = (bin_mels[k] - lower) / (center - lower)
            falling = (upper - bin_mels[k]) / (upper - center)
            weights[k, band] = max(0.0, min(rising, falling))
    return weights


def log_mel(waveform):
    """(frames, 64) log-mel spectrogram of a 16 kHz mono waveform."""
    signal = np.asarray(waveform, dtype=np.float64)
    windowed = frames(signal, WINDOW, HOP) * periodic_hann(WINDOW)
    magnitude = np.abs(np.fft.rfft(windowed, FFT_LENGTH))
    return np.log(magnitude @ mel_matrix() + LOG_OFFSET)


def examples(waveform):
    """(n, 96, 64) log-mel examples of a 16 kHz mono waveform."""
    return np.array(frames(log_mel(waveform), EXAMPLE_FRAMES, EXAMPLE_HOP))
