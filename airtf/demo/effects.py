"""Audio effects in numpy/scipy, each one a known cause of a sound quality.

Every function takes audio with time on axis 0 (mono ``(n,)`` or
``(n, channels)``) and its sample rate, and returns float32 audio of the same
shape.
"""

import numpy as np
from scipy import signal


def _time(audio, rate):
    """Seconds of each sample, shaped to broadcast against ``audio``."""
    t = np.arange(len(audio)) / rate
    return t.reshape((-1,) + (1,) * (audio.ndim - 1))


def reverb(audio, rate, rng, seconds=1.5, wet=0.35):
    """Convolve with a synthetic room: noise decaying by 60 dB in ``seconds``."""
    t = np.arange(int(seconds * rate)) / rate
    response = rng.standard_normal(len(t)) * 10.0 ** (-3.0 * t / seconds)
    response /= np.sqrt(np.sum(response ** 2))
    response = response.reshape((-1,) + (1,) * (audio.ndim - 1))
    reverberant = signal.fftconvolve(audio, response, axes=0)[:len(audio)]
    return ((1 - wet) * audio + wet * reverberant).astype(np.float32)


def low_pass(audio, rate, cutoff):
    """A 4th-order Butterworth low-pass at ``cutoff`` Hz (makes a sound dark)."""
    sections = signal.butter(4, cutoff, "lowpass", fs=rate, output="sos")
    return signal.sosfilt(sections, audio, axis=0).astype(np.float32)


def high_boost(audio, rate, corner, gain_db):
    """Add ``gain_db`` above ``corner`` Hz, a high shelf (makes a sound bright)."""
    sections = signal.butter(2, corner, "highpass", fs=rate, output="sos")
    highs = signal.sosfilt(sections, audio, axis=0)
    return (audio + (10.0 ** (gain_db / 20) - 1) * highs).astype(np.float32)


def drive(audio, amount):
    """Waveshape through tanh after scaling the peak to ``amount`` (distortion)."""
    peak = np.max(np.abs(audio))
    if peak == 0:
        return audio.astype(np.float32)
    return (peak * np.tanh(amount * audio / peak) / np.tanh(amount)).astype(np.float32)


def tremolo(audio, rate, hz, depth):
    """Amplitude modulation at ``hz``; ``depth`` 1 reaches silence."""
    gain = 1 - depth * 0.5 * (1 - np.cos(2 * np.pi * hz * _time(audio, rate)))
    return (audio * gain).astype(np.float32)


def vibrato(audio, rate, hz, cents):
    """Pitch modulation at ``hz`` by +-``cents``, through a modulated delay."""
    depth = (2 ** (cents / 1200) - 1) / (2 * np.pi * hz)  # seconds of delay swing
    t = np.arange(len(audio)) / rate
    read = np.clip(t - depth * (1 + np.sin(2 * np.pi * hz * t)), 0, None) * rate
    columns = audio.reshape(len(audio), -1)
    positions = np.arange(len(audio))
    shifted = np.stack([np.interp(read, positions, column) for column in columns.T], axis=1)
    return shifted.reshape(audio.shape).astype(np.float32)


def gate(audio, rate, tempo, pattern, ramp=0.005):
    """Switch the sound on and off in sixteenth notes at ``tempo`` (tempo-synced).

    ``pattern`` lists which sixteenths of a bar are open (1) or closed (0);
    edges are smoothed over ``ramp`` seconds.
    """
    sixteenth = 60.0 / tempo / 4
    steps = (np.arange(len(audio)) / rate / sixteenth).astype(int)
    opened = np.asarray(pattern, np.float32)[steps % len(pattern)]
    width = max(1, int(ramp * rate))
    smooth = np.convolve(opened, np.ones(width) / width, mode="same")
    return (audio * smooth.reshape((-1,) + (1,) * (audio.ndim - 1))).astype(np.float32)


def decay(audio, rate, start, time_constant):
    """Fade exponentially after ``start`` seconds with ``time_constant``."""
    t = _time(audio, rate)
    gain = np.exp(-np.clip(t - start, 0, None) / time_constant)
    return (audio * gain).astype(np.float32)


def normalize(audio, peak):
    """Scale so that the largest magnitude is ``peak`` (silence stays silent)."""
    largest = np.max(np.abs(audio))
    return (audio * (peak / largest) if largest > 0 else audio).astype(np.float32)
