"""Read audio files as the official VGGish does: float32, mono, 16 kHz.

The official AudioSet VGGish reads a file with soundfile, averages its
channels and resamples with ``resampy.resample(x, sr, 16000)`` (the
``kaiser_best`` filter). :func:`read` does exactly that, :func:`stream` gives
the same samples block by block for files too long to hold in memory, and
:func:`decode_tf` does it inside a ``tf.data`` pipeline.

Every failure caused by a file (missing, empty, corrupt, not audio, NaN
samples) raises :class:`airtf.errors.AudioError` with a one-line message that
names the file and the fix.
"""

import contextlib
import functools
import math
import os
import warnings
from typing import TYPE_CHECKING, Iterator, NamedTuple

import numpy as np
import soundfile
import soxr

from airtf import params
from airtf.errors import AirtfWarning, AudioError
from airtf.files import printable

if TYPE_CHECKING:
    import tensorflow as tf

RESAMPLERS = params.RESAMPLERS

SUPPORTED_FORMATS = "WAV, FLAC, OGG/Vorbis, MP3"
AUDIO_SUFFIXES = {".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".au", ".w64", ".caf"}
"""File suffixes taken for audio when folders are searched."""

_KAISER_BEST_ZERO_CROSSINGS = 64
"""Half-width of resampy's kaiser_best filter, in zero crossings."""

_MARGIN_FILTER_WIDTHS = 4
"""Context read on each side of a streamed block, in filter half-widths.

One half-width makes resampy exact; soxr's HQ filter needs a little more.
"""

class Waveform(NamedTuple):
    """Samples already in memory, to be read as a file is (see :func:`stream`); make one with :func:`waveform`.

    Attributes
    ----------
    samples : np.ndarray
        float32, shape (frames,) or (frames, channels), in [-1, 1].
    sample_rate : int
    name : str
        How messages name it.
    """

    samples: np.ndarray
    sample_rate: int
    name: str = "<waveform>"

    def __str__(self):
        return self.name


class WaveformError(AudioError, ValueError):
    """Samples handed over in memory are not audio airtf can read as they are."""


class SampleRangeWarning(AirtfWarning):
    """Float samples reach far beyond [-1, 1]: most likely integer samples that were never scaled."""


MAX_CHANNELS = 64
"""Most channels an array of samples may have; its shorter axis is taken for them."""
UNSCALED_PEAK = 2.0
"""Float samples whose peak exceeds this are warned about (:class:`SampleRangeWarning`)."""
_REFUSED_INTEGERS = ("int64", "uint64")
"""Integer types no audio format stores: a list of Python ints becomes int64, which says nothing of a scale."""


def integer_scale(dtype):
    """How integer samples of ``dtype`` map to [-1, 1): ``(x - offset) / scale``, as soundfile and WAV do.

    Signed types are divided by 2**(bits - 1) (int16: x / 32768, as the
    official VGGish reads a file); unsigned ones are centred first (uint8:
    (x - 128) / 128, as 8-bit WAV stores them).

    Returns
    -------
    (float, float)
        offset and scale.
    """
    dtype = np.dtype(dtype)
    half = 2.0 ** (8 * dtype.itemsize - 1)
    return (half if dtype.kind == "u" else 0.0), half


def waveform(samples, sample_rate, name="<waveform>") -> Waveform:
    """Check samples handed over in memory and put them in the form a file is read in.

    Every public function that takes samples (:func:`airtf.embed`,
    :meth:`airtf.Recognizer.predict`) goes through here, so all refuse the
    same things with the same one-line :class:`WaveformError`.

    Parameters
    ----------
    samples : array_like
        Shape (frames,), (frames, channels) or (channels, frames): the
        shorter axis of a 2-D array is taken for the channels (at most
        :data:`MAX_CHANNELS`), so both soundfile's and librosa's layouts
        work. Floats are taken as they are ([-1, 1]); int8, int16, int32
        and their unsigned kinds are scaled as :func:`integer_scale` says
        (int16 / 32768, the official VGGish's scaling).
    sample_rate : int
        Positive, whole (44100 or 44100.0).
    name : str
        How messages name the samples.

    Returns
    -------
    Waveform
        float32 samples (frames,) or (frames, channels).

    Raises
    ------
    WaveformError
        Another dtype (bool, complex, int64, objects), another number of
        dimensions, no samples, an axis too long to be channels, a rate
        that is not a positive whole number, NaN or Inf samples.

    Warns
    -----
    SampleRangeWarning
        Float samples with a peak above :data:`UNSCALED_PEAK`.
    """
    rate = _sample_rate(sample_rate, name)
    array = np.asarray(samples)
    kind = array.dtype.kind
    if kind not in "fiu" or array.dtype.name in _REFUSED_INTEGERS:
        raise WaveformError(f"{name}: samples of dtype {array.dtype}; pass floats in [-1, 1] or int8/int16/int32 "
                            "samples (int16 is divided by 32768, as the official VGGish reads files)")
    if array.ndim not in (1, 2) or array.size == 0:
        raise WaveformError(f"{name}: samples of shape {array.shape}; pass a non-empty array of shape (frames,), "
                            "(frames, channels) or (channels, frames)")
    if array.ndim == 2:
        array = _frames_first(array, name)
    if kind == "f":
        converted = array.astype(np.float32)
        if not np.all(np.isfinite(converted)):
            raise WaveformError(f"{name}: contains NaN or Inf samples; replace them (np.nan_to_num) or cut them "
                                "out")
        peak = float(np.max(np.abs(converted)))
        if peak > UNSCALED_PEAK:
            warnings.warn(f"{name}: float samples reach {peak:.6g}, far outside [-1, 1]; if they are integer "
                          "samples, pass them as integers (they are scaled) or divide them by 32768",
                          SampleRangeWarning, stacklevel=3)
    else:
        offset, scale = integer_scale(array.dtype)
        converted = ((array.astype(np.float64) - offset) / scale).astype(np.float32)
    return Waveform(converted, rate, name)


def _sample_rate(sample_rate, name):
    """``sample_rate`` as a positive int, or a WaveformError."""
    whole = isinstance(sample_rate, (int, np.integer)) and not isinstance(sample_rate, (bool, np.bool_))
    if isinstance(sample_rate, (float, np.floating)) and math.isfinite(sample_rate) and sample_rate.is_integer():
        whole = True
    if not whole or sample_rate <= 0:
        raise WaveformError(f"{name}: sample rate {sample_rate!r}; pass the rate of the samples in Hz, a positive "
                            "whole number (e.g. 44100)")
    return int(sample_rate)


def _frames_first(array, name):
    """A 2-D array as (frames, channels), its shorter axis taken for the channels."""
    channels = min(array.shape)
    if array.shape[0] == array.shape[1] or channels > MAX_CHANNELS:
        raise WaveformError(f"{name}: samples of shape {array.shape}: neither axis is clearly the channels (at "
                            f"most {MAX_CHANNELS}, fewer than the frames); pass (frames, channels), or mix to "
                            "mono yourself (samples.mean(axis=...))")
    return array if array.shape[1] == channels else array.T


class AudioInfo(NamedTuple):
    """What soundfile reports about an audio file."""

    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str


def _check_resampler(resampler):
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
    _check_resampler(resampler)
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


SEQUENTIAL_CHANNELS = 8
"""Up to this many channels numpy sums a row in order (beyond, pairwise): :func:`to_mono` adds columns then."""


def to_mono(samples) -> np.ndarray:
    """Average the channels of soundfile's (frames, channels) samples.

    Parameters
    ----------
    samples : np.ndarray
        Shape (frames, channels), or (frames,) when already mono.

    Returns
    -------
    np.ndarray
        float32 samples, shape (frames,).
    """
    samples = np.asarray(samples)
    if samples.ndim == 1:
        return samples.astype(np.float32)
    channels = samples.shape[1]
    if channels > SEQUENTIAL_CHANNELS:
        return samples.mean(axis=1, dtype=np.float64).astype(np.float32)
    # numpy's mean over so few channels adds them one after another in float64: the same sum, 4x faster by column
    total = samples[:, 0].astype(np.float64)
    for channel in range(1, channels):
        total += samples[:, channel]
    return (total / channels).astype(np.float32)


def _checked_path(path):
    """Return ``path`` as a string, or raise AudioError if it is not a readable file."""
    path = os.fsdecode(path)
    name = printable(path)
    if os.path.isdir(path):
        raise AudioError(f"{name}: is a directory, not an audio file; pass the path of a file")
    if not os.path.exists(path):
        raise AudioError(f"{name}: file not found; check the path")
    if not os.access(path, os.R_OK):
        raise AudioError(f"{name}: permission denied; make the file readable")
    if os.path.getsize(path) == 0:
        raise AudioError(f"{name}: file is empty (0 bytes); re-download or remove it")
    return path


def _decode_error(path, error):
    reason = getattr(error, "error_string", None) or str(error)
    if "File does not exist or is not a regular file" in reason:  # libsndfile's words for an unknown format
        reason = "not a format it recognises"
    return AudioError(
        f"{path}: cannot decode (soundfile: {reason.strip()}); the file is corrupt or "
        f"not audio — supported formats: {SUPPORTED_FORMATS}"
    )


def _open(path):
    """Open ``path`` with soundfile, raising AudioError on any failure.

    soundfile is handed the name's bytes: it would encode a str strictly,
    failing on names that are not valid in the locale's encoding.
    """
    path = _checked_path(path)
    try:
        return soundfile.SoundFile(os.fsencode(path))
    except (soundfile.SoundFileError, TypeError) as error:
        raise _decode_error(printable(path), error) from None


def _name(sound):
    """An open file's name as messages show it."""
    return printable(sound.name)


def info(path) -> AudioInfo:
    """Describe an audio file without decoding it.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.

    Returns
    -------
    AudioInfo
        sample_rate (Hz), channels, frames, format and subtype, as soundfile
        names them (e.g. "OGG", "VORBIS").
    """
    with _open(path) as sound:
        return AudioInfo(sound.samplerate, sound.channels, sound.frames, sound.format, sound.subtype)


def _read_mono(sound, path, frames):
    """Read up to ``frames`` frames (-1: all the rest) as float32 mono."""
    try:
        samples = sound.read(frames, dtype="float32", always_2d=True)
    except (soundfile.SoundFileError, TypeError) as error:
        raise _decode_error(path, error) from None
    return _finite_mono(samples, path)


def _finite_mono(samples, path):
    """Average channels, raising AudioError if a sample is NaN or Inf."""
    mono = to_mono(samples)
    if not np.all(np.isfinite(mono)):
        raise AudioError(
            f"{path}: contains NaN or Inf samples; re-export it from its source or remove it"
        )
    return mono


def _no_frames_error(path):
    return AudioError(f"{path}: no audio frames; the file holds no samples — re-export or remove it")


def read(path, *, resampler="resampy") -> np.ndarray:
    """Read a whole audio file as float32 mono at 16 kHz.

    Samples are decoded by soundfile as float32 (16-bit integers become
    x / 32768, as in the official VGGish), averaged over channels and
    resampled with :func:`resample`.

    Parameters
    ----------
    path : str or os.PathLike
        An audio file soundfile reads: WAV, FLAC, OGG/Vorbis, MP3 and more.
    resampler : {"resampy", "soxr"}
        See :func:`resample`.

    Returns
    -------
    np.ndarray
        float32 samples, shape (n,).

    Raises
    ------
    AudioError
        The file is missing, empty, corrupt, holds no frames or NaN/Inf.
    """
    _check_resampler(resampler)
    with _open(path) as sound:
        waveform = _read_mono(sound, _name(sound), -1)
    if len(waveform) == 0:
        raise _no_frames_error(_name(sound))
    return resample(waveform, sound.samplerate, resampler=resampler)


class _BlockPlan(NamedTuple):
    """Sizes, in input frames, for resampling a stream block by block."""

    block: int
    margin: int
    sample_rate: int


def _block_plan(sample_rate, block_seconds):
    """Blocks and margins that start on input frames where an output sample falls.

    With g = gcd(sample_rate, 16000), output sample k * (16000 // g) sits
    exactly on input frame k * (sample_rate // g); blocks cut there resample
    to whole output samples, and margins wider than the filter make each
    block's output equal to that of the whole file.
    """
    step = sample_rate // math.gcd(sample_rate, params.SAMPLE_RATE)
    block = max(1, round(block_seconds * sample_rate / step)) * step
    if sample_rate == params.SAMPLE_RATE:
        return _BlockPlan(block, 0, sample_rate)
    half_width = math.ceil(
        _KAISER_BEST_ZERO_CROSSINGS * max(1.0, sample_rate / params.SAMPLE_RATE)
    )
    margin = math.ceil(_MARGIN_FILTER_WIDTHS * half_width / step) * step
    return _BlockPlan(block, margin, sample_rate)


def stream(path, *, block_seconds=params.BLOCK_SECONDS, resampler="resampy") -> Iterator[np.ndarray]:
    """Read an audio file block by block as float32 mono at 16 kHz.

    The file is read once, front to back, keeping only one block and its
    context in memory; the blocks concatenated equal :func:`read` (to about
    1e-6). A :class:`Waveform` gives one block: its samples averaged over
    channels and resampled as :func:`read` does a file's.

    Parameters
    ----------
    path : str, os.PathLike or Waveform
        The audio file, or samples in memory.
    block_seconds : float
        Approximate length of each block, in seconds of input (rounded to
        where input and output samples align; default
        :data:`airtf.params.BLOCK_SECONDS`).
    resampler : {"resampy", "soxr"}
        See :func:`resample`.

    Returns
    -------
    Iterator[np.ndarray]
        float32 mono 16 kHz blocks.

    Raises
    ------
    AudioError
        As :func:`read`; a file that cannot be opened raises at the call,
        one that fails mid-way raises during iteration.
    """
    _check_resampler(resampler)
    if not block_seconds > 0:
        raise ValueError(f"block_seconds must be positive, got {block_seconds}")
    if isinstance(path, Waveform):
        return iter([_waveform_samples(path, resampler)])
    sound = _open(path)
    plan = _block_plan(sound.samplerate, block_seconds)
    return _resampled_blocks(sound, plan, resampler)


def _waveform_samples(waveform, resampler):
    """A Waveform's samples (checked by :func:`waveform`) as float32 mono 16 kHz."""
    return resample(to_mono(waveform.samples), waveform.sample_rate, resampler=resampler)


def _resampled_blocks(sound, plan, resampler) -> Iterator[np.ndarray]:
    """Yield the 16 kHz output of consecutive blocks of an open file, closing it after."""
    with sound:
        buffer = np.zeros(0, dtype=np.float32)  # input frames from buffer_start on
        buffer_start = block_start = 0
        at_end = False
        while True:
            wanted = block_start + plan.block + plan.margin - (buffer_start + len(buffer))
            if not at_end and wanted > 0:
                chunk = _read_mono(sound, _name(sound), wanted)
                at_end = len(chunk) < wanted
                buffer = np.concatenate([buffer, chunk])
            total = buffer_start + len(buffer)
            if total == 0:
                raise _no_frames_error(_name(sound))
            block_end = min(block_start + plan.block, total)
            output = _block_output(buffer, buffer_start, block_start, block_end, plan, resampler)
            if len(output):
                yield output
            if at_end and block_end == total:
                return
            block_start = block_end
            keep_from = max(0, block_start - plan.margin)
            buffer = buffer[keep_from - buffer_start :]
            buffer_start = keep_from


def _block_output(buffer, buffer_start, block_start, block_end, plan, resampler):
    """Resample the buffer (block plus margins) and keep the block's own output."""
    context_start = max(0, block_start - plan.margin)
    context = buffer[context_start - buffer_start :]
    resampled = resample(context, plan.sample_rate, resampler=resampler)
    offset = resampled_length(context_start, plan.sample_rate)
    first = resampled_length(block_start, plan.sample_rate) - offset
    stop = resampled_length(block_end, plan.sample_rate) - offset
    return resampled[first:stop]


def example_segments(blocks, pad=False):
    """Regroup a stream of 16 kHz blocks into segments that each hold whole examples.

    Framing each segment on its own gives exactly the examples of framing the
    whole waveform: consecutive segments overlap by the 240 samples that the
    last STFT window of an example reaches past its hop.

    Parameters
    ----------
    blocks : iterable of 1-D float32 arrays.
    pad : bool
        Zero-pad a waveform shorter than one example (15,600 samples) so that
        it gives one example; longer waveforms are never padded.
    """
    overlap = params.EXAMPLE_SAMPLES - params.EXAMPLE_HOP_SAMPLES
    buffer = np.zeros(0, np.float32)
    seen = 0
    for block in blocks:
        seen += len(block)
        buffer = np.concatenate([buffer, block])
        whole = (len(buffer) - overlap) // params.EXAMPLE_HOP_SAMPLES
        if whole > 0:
            cut = whole * params.EXAMPLE_HOP_SAMPLES
            yield buffer[:cut + overlap]
            buffer = buffer[cut:]
    if len(buffer) >= params.EXAMPLE_SAMPLES:
        yield buffer
    elif pad and seen < params.EXAMPLE_SAMPLES:
        yield np.pad(buffer, (0, params.EXAMPLE_SAMPLES - len(buffer)))


def decode_tf(path, *, resampler="resampy") -> "tf.Tensor":
    """Decode an audio file to float32 mono 16 kHz inside a TensorFlow graph.

    Usable in ``tf.data.Dataset.map``: the file is read by :func:`read`
    through ``tf.numpy_function``, so the samples are :func:`read`'s.

    Parameters
    ----------
    path : str or tf.Tensor
        Scalar string: the audio file.
    resampler : {"resampy", "soxr"}
        See :func:`resample`.

    Returns
    -------
    tf.Tensor
        float32, shape [n].

    Raises
    ------
    tf.errors.OpError
        At run time, for a bad file; its message holds the AudioError text,
        which names the file and the fix.
    """
    import tensorflow as tf

    _check_resampler(resampler)
    path = tf.convert_to_tensor(path, dtype=tf.string)
    return tf.ensure_shape(_read_in_graph(path, resampler), [None])


def _read_in_graph(path, resampler):
    """:func:`read` as a graph op."""
    import tensorflow as tf

    def read_path(path_bytes):
        return read(os.fsdecode(path_bytes), resampler=resampler)

    waveform = tf.numpy_function(read_path, [path], tf.float32, name="audio_read")
    return tf.reshape(waveform, [-1])
