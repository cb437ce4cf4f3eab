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

import math
import os
import warnings
from typing import TYPE_CHECKING, Iterator, NamedTuple

import numpy as np
import soundfile

from airtf import params
from airtf.errors import AirtfWarning, AudioError
from airtf.audio.resampling import KAISER_BEST_ZERO_CROSSINGS, check_resampler, resample, resampled_length
from airtf.support.files import printable

if TYPE_CHECKING:
    import tensorflow as tf


SUPPORTED_FORMATS = "WAV, FLAC, OGG/Vorbis, MP3"
AUDIO_SUFFIXES = {".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".au", ".w64", ".caf"}
"""File suffixes taken for audio when folders are searched."""

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
    check_resampler(resampler)
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
        KAISER_BEST_ZERO_CROSSINGS * max(1.0, sample_rate / params.SAMPLE_RATE)
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
    check_resampler(resampler)
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

    check_resampler(resampler)
    path = tf.convert_to_tensor(path, dtype=tf.string)
    return tf.ensure_shape(_read_in_graph(path, resampler), [None])


def _read_in_graph(path, resampler):
    """:func:`read` as a graph op."""
    import tensorflow as tf

    def read_path(path_bytes):
        return read(os.fsdecode(path_bytes), resampler=resampler)

    waveform = tf.numpy_function(read_path, [path], tf.float32, name="audio_read")
    return tf.reshape(waveform, [-1])
