"""The official resampler, exact and fast: resampy's kaiser_best filter in polyphase form.

:func:`resample` gives the samples of ``resampy.resample(x, sr, 16000)``
(the official VGGish's) from a matrix product over the filter's phases,
or soxr's HQ resampling where asked for.
"""

import contextlib
import functools
import math
from typing import NamedTuple

import numpy as np
import soxr

from airtf import params

RESAMPLERS = params.RESAMPLERS

KAISER_BEST_ZERO_CROSSINGS = 64
"""Half-width of resampy's kaiser_best filter, in zero crossings."""


def check_resampler(resampler):
    if resampler not in RESAMPLERS:
        raise ValueError(
            f"unknown resampler {resampler!r}; choose one of {', '.join(RESAMPLERS)}"
        )


def resampled_length(frames, sample_rate):
    """Number of 16 kHz samples for ``frames`` input samples, as resampy counts (and :func:`read` gives)."""
    return frames * params.SAMPLE_RATE // sample_rate


def resample(waveform, sample_rate, *, resampler="resampy") -> np.ndarray:
    """Resample a mono waveform to 16 kHz.

    Parameters
    ----------
    waveform : np.ndarray
        Mono samples, shape (n,).
    sample_rate : int
        Sample rate of ``waveform`` in Hz.
    resampler : {"resampy", "soxr"}
        "resampy" (default) is ``resampy.resample`` with its kaiser_best
        filter, as the official VGGish; "soxr" is soxr's HQ quality, faster.

    Returns
    -------
    np.ndarray
        float32 samples at 16 kHz, ``int(n * 16000 / sample_rate)`` of them
        with either resampler; the input itself (as float32) at 16 kHz.
    """
    check_resampler(resampler)
    waveform = np.asarray(waveform, dtype=np.float32)
    if waveform.ndim != 1:
        raise ValueError(f"resample takes a mono waveform, got shape {waveform.shape}")
    if sample_rate != int(sample_rate) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate}")
    sample_rate = int(sample_rate)
    if sample_rate == params.SAMPLE_RATE:
        return waveform
    length = resampled_length(len(waveform), sample_rate)
    if length == 0:
        return np.zeros(0, dtype=np.float32)
    if resampler == "soxr":
        resampled = soxr.resample(waveform, sample_rate, params.SAMPLE_RATE, quality="HQ")
        return resampled[:length]
    # Official VGGish resamples float64 samples; so do we, then round once.
    plan = _polyphase(sample_rate)
    if plan is None:
        import resampy  # numba compiles on import (0.2 s): only where it is used

        resampled = resampy.resample(waveform.astype(np.float64), sample_rate, params.SAMPLE_RATE)
    else:
        resampled = _resample_polyphase(waveform.astype(np.float64), sample_rate, plan, length)
    return resampled.astype(np.float32)


# resampy's kaiser_best as a polyphase filter -------------------------------
#
# resampy puts output sample t at input time t * sr / 16000, split into an
# input index n and a fraction; the fraction picks, by linear interpolation in
# a table, the weights of the filter's taps left and right of n. With
# sr / 16000 = down / up, the fraction repeats every ``up`` outputs, so the
# weights of each of the ``up`` phases are computed once (as resampy computes
# them) and applied to all blocks of ``down`` input samples with one matrix
# product. Where rounding in resampy's float64 times moves an output to
# another index or table entry than its phase's (a jump of up to 1e-4 at some
# rates), that output is computed on its own, as resampy does; elsewhere the
# interpolation factors differ only by that rounding, which grows with the
# signal's length (outputs within 1e-10 of resampy's on 10 s).

_POLYPHASE_MAX_WEIGHTS = 2**22
"""Largest phases x taps weight matrix (32 MiB); bigger ones use resampy itself."""

_POLYPHASE_MIN_PHASES = 64
"""Fewest phases (outputs per block): for 48 kHz, 64 outputs from 192 inputs.

One output per 3 inputs would make the weights a single row and the product
a slow matrix-vector one over heavily overlapping windows.
"""


class _KaiserBest(NamedTuple):
    """resampy's kaiser_best filter as ``resampy.resample`` sets it up for one rate."""

    window: np.ndarray  # table of the filter's right wing, scaled when downsampling
    delta: np.ndarray  # differences of the table, for linear interpolation
    num_table: int  # table entries per zero crossing
    index_step: int  # table entries between taps
    taps: int  # most taps in one wing
    scale: float  # min(1, 16000 / sample_rate)
    time_increment: float  # input samples per output sample


class _Polyphase(NamedTuple):
    """Weights of each output phase for resampling from one rate to 16 kHz."""

    filter: _KaiserBest
    up: int  # outputs, hence phases, per block
    down: int  # inputs per block
    weights: np.ndarray  # (up, width): column c weighs input block * down + c - (taps - 1)
    phase_start: np.ndarray  # (up,) each phase's index n within its block
    phase_left: np.ndarray  # (up,) its left wing's table offset
    phase_right: np.ndarray  # (up,) its right wing's table offset


def _kaiser_best(sample_rate):
    """Set up kaiser_best for ``sample_rate`` -> 16 kHz exactly as ``resampy.resample``."""
    import resampy  # numba compiles on import (0.2 s): only where it is used

    sample_ratio = float(params.SAMPLE_RATE) / sample_rate
    window, num_table, _ = resampy.filters.get_filter("kaiser_best")
    if sample_ratio < 1:
        window = sample_ratio * window
    delta = np.diff(window, append=window[-1])
    scale = min(1.0, sample_ratio)
    index_step = int(scale * num_table)
    return _KaiserBest(
        window, delta, num_table, index_step, len(window) // index_step, scale, 1.0 / sample_ratio
    )


def _table_positions(times, kaiser):
    """Split input times as resampy does.

    Parameters
    ----------
    times : np.ndarray
        Input times of output samples, in input samples.
    kaiser : _KaiserBest

    Returns
    -------
    tuple of np.ndarray
        Input index n, left wing's table position, right wing's table
        position (float: table offset plus interpolation factor).
    """
    start = times.astype(np.int64)
    frac = kaiser.scale * (times - start)
    return start, frac * kaiser.num_table, (kaiser.scale - frac) * kaiser.num_table


def _wing(kaiser, position):
    """Weights of a wing's taps, as resampy interpolates them.

    Parameters
    ----------
    kaiser : _KaiserBest
    position : np.ndarray
        (k,) table positions from :func:`_table_positions`.

    Returns
    -------
    np.ndarray
        (k, kaiser.taps) weights, nearest tap first; zero past the wing's end.
    """
    offset = position.astype(np.int64)
    eta = position - offset
    index = offset[:, None] + kaiser.index_step * np.arange(kaiser.taps)
    inside = index + kaiser.index_step <= len(kaiser.window)
    index = np.where(inside, index, 0)
    weight = kaiser.window[index] + eta[:, None] * kaiser.delta[index]
    return np.where(inside, weight, 0.0)


@functools.lru_cache(maxsize=None)
def _polyphase(sample_rate):
    """Polyphase weights for ``sample_rate`` -> 16 kHz, or None if too many."""
    divisor = math.gcd(sample_rate, params.SAMPLE_RATE)
    blocks_per_block = -(-_POLYPHASE_MIN_PHASES * divisor // params.SAMPLE_RATE)
    up, down = (rate // divisor * blocks_per_block for rate in (params.SAMPLE_RATE, sample_rate))
    kaiser = _kaiser_best(sample_rate)
    width = down * (up - 1) // up + 2 * kaiser.taps
    if up * width > _POLYPHASE_MAX_WEIGHTS:
        return None
    start, left, right = _table_positions(np.arange(up) * kaiser.time_increment, kaiser)
    weights = np.zeros((up, width))
    rows = np.arange(up)[:, None]
    taps = np.arange(kaiser.taps)
    weights[rows, start[:, None] - taps + kaiser.taps - 1] = _wing(kaiser, left)
    weights[rows, start[:, None] + 1 + taps + kaiser.taps - 1] = _wing(kaiser, right)
    offsets = (left.astype(np.int64), right.astype(np.int64))
    return _Polyphase(kaiser, up, down, weights, start, *offsets)


def _resample_polyphase(waveform, sample_rate, plan, length):
    """``resampy.resample(waveform, sample_rate, 16000)`` with precomputed phases.

    Parameters
    ----------
    waveform : np.ndarray
        float64 mono samples.
    sample_rate : int
    plan : _Polyphase
        From :func:`_polyphase` for their sample rate.
    length : int
        Number of output samples, as resampy counts them.

    Returns
    -------
    np.ndarray
        float64 samples at 16 kHz, within rounding of resampy's.
    """
    kaiser = plan.filter
    blocks = -(-length // plan.up)
    lead = kaiser.taps - 1  # zeros before the signal: resampy skips taps outside it
    width = plan.weights.shape[1]
    padded = np.zeros(max((blocks - 1) * plan.down + width, lead + len(waveform) + kaiser.taps))
    padded[lead : lead + len(waveform)] = waveform
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)[:: plan.down][:blocks]
    # A contiguous copy lets BLAS compute the product (10x faster than strided).
    resampled = (np.ascontiguousarray(windows) @ plan.weights.T).ravel()[:length]
    irregular, start, left, right = _irregular_outputs(sample_rate, length)
    if len(irregular):
        taps = np.arange(kaiser.taps)
        left_inputs = padded[lead + start[:, None] - taps]
        right_inputs = padded[lead + start[:, None] + 1 + taps]
        resampled[irregular] = np.sum(_wing(kaiser, left) * left_inputs, axis=1) + np.sum(
            _wing(kaiser, right) * right_inputs, axis=1
        )
    return resampled


@contextlib.contextmanager
def single_threaded_blas():
    """Run the block with numpy's BLAS (the polyphase resampler's matrix product) on one thread.

    The resampler runs in tf.data's worker threads while TensorFlow computes
    in its own; OpenBLAS's threads would spin for the same cores (1,500
    files of 1.5 s: 12 % slower and 7 CPU s more, tools/bench_extract.py).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@functools.lru_cache(maxsize=32)
def _irregular_outputs(sample_rate, length):
    """The outputs of :func:`_resample_polyphase` that its phases miss, and their table positions.

    Where rounding in resampy's float64 times moves an output's input index
    or table position off its phase's pattern, that output is computed on its
    own. Which outputs these are depends only on the rate and the output
    length, so they are found once per (rate, length): streamed blocks and
    files of one length share them.

    Returns
    -------
    tuple of np.ndarray
        Output indices, then their input index, left and right table
        positions (see :func:`_table_positions`); read-only.
    """
    plan = _polyphase(sample_rate)
    kaiser = plan.filter
    blocks = -(-length // plan.up)
    times = np.arange(blocks * plan.up) * kaiser.time_increment
    start, left, right = (value.reshape(blocks, plan.up) for value in _table_positions(times, kaiser))
    irregular = (
        (start != np.arange(blocks)[:, None] * plan.down + plan.phase_start)
        | (left.astype(np.int64) != plan.phase_left)
        | (right.astype(np.int64) != plan.phase_right)
    )
    irregular = np.flatnonzero(irregular.ravel()[:length])
    found = (irregular, *(value.ravel()[irregular] for value in (start, left, right)))
    for array in found:
        array.flags.writeable = False
    return found
