"""Framing in ``keras.ops``: the pieces the front ends' Keras layers share.

They run under the TensorFlow backend (eagerly, in ``tf.data.Dataset.map``
and in a SavedModel signature with an unknown number of samples) and under
JAX. Imported by the front ends only, so that ``import airtf.audio`` loads no Keras.
"""

import numpy as np
from keras import ops

from airtf import params
from airtf.errors import AirtfError


def periodic_hann(length):
    """The periodic Hann window ``0.5 - 0.5 cos(2 pi n / length)``, float64."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(length) / length)


class WindowedDFT:
    """The power spectrum of windowed frames, by TensorFlow's RFFT or by the DFT as two matrix products.

    ``method="matmul"`` uses builtin LiteRT and ONNX operations only (as
    YAMNet's TFLite path does): frames times the windowed cosines and sines of
    the ``fft_length // 2 + 1`` bins, built in float64 then cast; equal to the
    RFFT to float32 rounding. ``"matmul-runtime"`` (LiteRT only: ONNX has no
    bit cast) computes the same matrices at each call from their int32 bit
    patterns (:meth:`matrix`), so that LiteRT's post-training quantisation,
    which rewrites constant weights, leaves the front end exact.
    """

    METHODS = ("rfft", "matmul", "matmul-runtime")

    def __init__(self, window, fft_length, method="rfft"):
        if method not in self.METHODS:
            raise ValueError(f"unknown DFT method {method!r}; choose one of {', '.join(self.METHODS)}")
        self.method = method
        self.fft_length = fft_length
        self.window = np.asarray(window, np.float32)
        if method != "rfft":
            angle = 2.0 * np.pi * np.outer(np.arange(len(window)), np.arange(fft_length // 2 + 1)) / fft_length
            self.cosine = (np.asarray(window)[:, None] * np.cos(angle)).astype(np.float32)
            self.sine = (np.asarray(window)[:, None] * np.sin(angle)).astype(np.float32)

    def matrix(self, values, frames):
        """The float32 array ``values`` as the computation on ``frames`` (..., n, size) uses it.

        A constant, except with ``"matmul-runtime"``: its bit patterns as int32
        times a one that depends on the number of frames (unknown until run
        time, so the converter cannot fold it), cast back bit for bit.
        """
        if self.method != "matmul-runtime":
            return values
        one = ops.cast(ops.shape(frames)[-2] >= 0, "int32")
        return ops.view(values.view(np.int32) * one, "float32")

    def power(self, frames):
        """(..., n, window) frames -> (..., n, fft_length // 2 + 1) squared magnitudes."""
        if self.method == "rfft":
            # Padding here rather than through rfft's fft_length: TensorFlow's eager
            # RFFT rejects fft_length > frame length when there are no frames.
            real, imaginary = ops.rfft(pad_to(frames * self.window, self.fft_length))
        else:
            real = ops.matmul(frames, self.matrix(self.cosine, frames))
            imaginary = ops.matmul(frames, self.matrix(self.sine, frames))
        return real * real + imaginary * imaginary


def nonnegative(count):
    """``max(count, 0)`` for a Python int or a scalar tensor."""
    return max(count, 0) if isinstance(count, int) else ops.maximum(count, 0)


def window_count(length, window, hop):
    """Complete windows of ``window`` items, ``hop`` apart, in ``length`` items."""
    return nonnegative(1 + (length - window) // hop)


def frame(x, window, hop, axis):
    """Cut ``x`` into complete windows along ``axis``; incomplete ones are dropped.

    Axis ``axis`` of length ``L`` becomes two axes: the window index and the
    position within the window, of lengths ``window_count(L, window, hop)``
    and ``window``.
    """
    shape = list(ops.shape(x))
    axis %= len(shape)
    if isinstance(shape[axis], int) and shape[axis] == 0:
        # jnp.take returns an operand with an empty axis unchanged.
        shape[axis : axis + 1] = [0, window]
        return ops.zeros(shape, dtype=x.dtype)
    count = window_count(shape[axis], window, hop)
    starts = ops.arange(count, dtype="int32") * hop
    indices = starts[:, None] + ops.arange(window, dtype="int32")[None, :]
    return ops.take(x, indices, axis=axis)


def pad_to(x, length):
    """Zero-pad the last axis of ``x`` at its end to at least ``length`` items."""
    shortfall = nonnegative(length - ops.shape(x)[-1])
    no_padding = [[0, 0]] * (len(ops.shape(x)) - 1)
    return ops.pad(x, no_padding + [[0, shortfall]])


def with_hop(front_end, seconds):
    """A copy of a front end's layer whose examples start ``seconds`` apart (itself for None).

    ``seconds`` must be a whole number of the front end's frames
    (``front_end.frame_samples`` at 16 kHz: 10 ms for VGGish, 16 ms for musicnn);
    otherwise an :class:`~airtf.errors.AirtfError` says which multiples would do.
    """
    if seconds is None:
        return front_end
    step = front_end.frame_samples / params.SAMPLE_RATE
    frames = round(seconds / step)
    if frames < 1 or abs(frames * step - seconds) > 1e-6:
        raise AirtfError(f"--hop {seconds}: examples start on the front end's frames, {step:g} s apart; give a "
                         f"positive multiple of {step:g} s (e.g. {step * max(1, frames):g})")
    return type(front_end).from_config({**front_end.get_config(), "hop_frames": frames})
