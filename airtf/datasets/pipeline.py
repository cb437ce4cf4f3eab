"""What every dataset loader shares: tf.data from audio files to log-mel examples.

API
---
``log_mel_dataset(paths, *, frontend=None, resampler="resampy", num_examples=None,
cache_dir=None, num_parallel_calls=AUTOTUNE, deterministic=True)``
    A ``tf.data.Dataset`` with one element per path, in order: the file's
    float32 log-mel examples, shape ``(n, 96, 64)`` (``n`` fixed to
    ``num_examples`` when given). Files are decoded with
    :func:`airtf.audio.decode_tf`, turned into examples by a
    :class:`airtf.vggish.LogMelExamples` layer in parallel map calls, and
    prefetched. With ``cache_dir``, each file's examples (before trimming or
    padding) are stored there once computed and read back on later passes,
    by this dataset and by any other built on the same files.
``fit_examples(examples, count, frontend=None)``
    Trim ``(n, frames, bands)`` examples to ``count``, or pad them with the
    examples of digital silence.
``cache_path(cache_dir, path, frontend=None, resampler="resampy")``
    The cache file of one audio file: named by a hash of its absolute path,
    size and modification time, the front end's configuration and the
    resampler, so that changing any of them computes the examples afresh.
``missing_files(paths)``
    The paths that are not files, for loaders to fail before decoding starts.
``read_json(path, fix)``
    A JSON file's value, or a DatasetError naming the file and ``fix``.
``DatasetError``
    A data set's files are missing, malformed or inconsistent.

Decoding errors raised while iterating arrive as ``tf.errors.OpError`` whose
message holds the :class:`airtf.errors.AudioError` text naming the file.
"""

import json
import math
import os
from pathlib import Path

import numpy as np

from airtf import audio
from airtf.errors import AirtfError, AudioError
from airtf.support import array_cache

AUTOTUNE = -1
"""``tf.data.AUTOTUNE``, without importing TensorFlow at import time."""


class DatasetError(AirtfError):
    """A data set's files are missing, malformed or inconsistent."""


def _default_frontend(frontend):
    from airtf.vggish.audio_converter import LogMelExamples

    return LogMelExamples() if frontend is None else frontend


def missing_files(paths):
    """Return the paths, among ``paths``, that are not existing files.

    Parameters
    ----------
    paths : iterable of str or os.PathLike

    Returns
    -------
    list of str
    """
    return [os.fspath(path) for path in paths if not os.path.isfile(path)]


def _frontend_settings(frontend):
    """The front end's configuration, without what does not change its output."""
    config = frontend.get_config()
    for name in ("name", "trainable"):
        config.pop(name, None)
    return config


def cache_path(cache_dir, path, frontend=None, resampler="resampy"):
    """Where the cached examples of one audio file live (see :mod:`airtf.support.array_cache`).

    Parameters
    ----------
    cache_dir : str or os.PathLike
        The cache folder.
    path : str or os.PathLike
        The audio file; it must exist.
    frontend : LogMelExamples or None
        The front end (default: ``LogMelExamples()``, the official one).
    resampler : {"resampy", "soxr"}
        See :func:`airtf.audio.resample`.

    Returns
    -------
    Path
    """
    computed_by = {"frontend": _frontend_settings(_default_frontend(frontend)), "resampler": resampler}
    return array_cache.entry(cache_dir, path, computed_by)


def fit_examples(examples, count, frontend=None):
    """Trim examples to ``count``, or pad them with the examples of silence.

    Parameters
    ----------
    examples : tf.Tensor
        float32, shape ``(n, frames, bands)``.
    count : int
        Examples wanted.
    frontend : LogMelExamples or None
        Gives the padding value ``log(log_offset)``, what the front end
        computes for digital silence (default: the official front end).

    Returns
    -------
    tf.Tensor
        float32, shape ``(count, frames, bands)``.
    """
    import tensorflow as tf

    silence = math.log(_default_frontend(frontend).log_offset)
    kept = examples[:count]
    shape = tf.shape(kept)
    padding = tf.fill(tf.concat([[count - shape[0]], shape[1:]], axis=0), tf.constant(silence, tf.float32))
    fitted = tf.concat([kept, padding], axis=0)
    return tf.ensure_shape(fitted, [count, *examples.shape[1:]])


def _load_cached(cache_file, frontend):
    """Read one cache file back (a graph op)."""
    import tensorflow as tf

    def load(file_bytes):
        return array_cache.read(os.fsdecode(file_bytes), (None, frontend.example_frames, frontend.num_mel_bins))

    return tf.numpy_function(load, [cache_file], tf.float32, name="cache_load")


def _compute_and_store(path, cache_file, frontend, resampler):
    """Decode and compute one file's examples, writing them to the cache (a graph op)."""
    import tensorflow as tf

    examples = frontend(audio.decode_tf(path, resampler=resampler))

    def store(file_bytes, examples):
        return array_cache.write(os.fsdecode(file_bytes), examples)

    return tf.numpy_function(store, [cache_file, examples], tf.float32, name="cache_store")


def _cached_examples(path, cache_file, frontend, resampler):
    """The examples of one file: from its cache file if present, else computed and stored."""
    import tensorflow as tf

    present = tf.numpy_function(lambda file: np.bool_(os.path.isfile(file)), [cache_file], tf.bool)
    return tf.cond(
        tf.reshape(present, []),
        lambda: _load_cached(cache_file, frontend),
        lambda: _compute_and_store(path, cache_file, frontend, resampler),
    )


def log_mel_dataset(
    paths,
    *,
    frontend=None,
    resampler="resampy",
    num_examples=None,
    cache_dir=None,
    num_parallel_calls=AUTOTUNE,
    deterministic=True,
):
    """Log-mel examples of audio files as a ``tf.data.Dataset``.

    Parameters
    ----------
    paths : sequence of str or os.PathLike
        Audio files (any format :func:`airtf.audio.read` reads).
    frontend : LogMelExamples or None
        The front end (default: ``LogMelExamples()``, the official VGGish
        one, which drops a trailing partial example).
    resampler : {"resampy", "soxr"}
        See :func:`airtf.audio.resample`; "resampy" gives the official numbers.
    num_examples : int or None
        If given, every element is trimmed or padded to this many examples
        (see :func:`fit_examples`), so elements batch.
    cache_dir : str or os.PathLike or None
        If given, each file's examples (before trimming or padding) are
        stored there as .npy once computed, and read instead of decoding on
        every later pass (see :func:`cache_path`).
    num_parallel_calls : int
        Files decoded at once (default ``AUTOTUNE``).
    deterministic : bool
        Keep the elements in the order of ``paths`` (default True, so that
        they can be zipped with labels).

    Returns
    -------
    tf.data.Dataset
        Elements float32 ``(n, 96, 64)``, one per path, prefetched.

    Raises
    ------
    AudioError
        Some paths are not files (the message gives their number and the first).
    """
    import tensorflow as tf

    paths = [os.fspath(path) for path in paths]
    absent = missing_files(paths)
    if absent:
        raise AudioError(
            f"{absent[0]}: file not found ({len(absent)} of {len(paths)} audio files are missing); "
            "check the paths or leave those files out")
    frontend = _default_frontend(frontend)
    shape = [None, frontend.example_frames, frontend.num_mel_bins]

    if cache_dir is None:
        dataset = tf.data.Dataset.from_tensor_slices(tf.constant(paths, tf.string))

        def compute(path):
            return frontend(audio.decode_tf(path, resampler=resampler))

    else:
        files = [os.fspath(cache_path(cache_dir, path, frontend, resampler)) for path in paths]
        for folder in {os.path.dirname(file) for file in files}:
            os.makedirs(folder, exist_ok=True)
        dataset = tf.data.Dataset.from_tensor_slices((tf.constant(paths, tf.string), tf.constant(files, tf.string)))

        def compute(path, file):
            return _cached_examples(path, file, frontend, resampler)

    def examples_of(*element):
        examples = tf.ensure_shape(compute(*element), shape)
        return examples if num_examples is None else fit_examples(examples, num_examples, frontend)

    dataset = dataset.map(examples_of, num_parallel_calls=num_parallel_calls, deterministic=deterministic)
    return dataset.prefetch(AUTOTUNE)


def read_json(path, fix):
    """Parse a JSON file, turning any failure into a DatasetError naming it.

    Parameters
    ----------
    path : str or os.PathLike
    fix : str
        What the user should do about a bad file, ending the message.

    Returns
    -------
    object
        The parsed JSON value.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot read ({error}); {fix}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DatasetError(
            f"{path}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}); {fix}"
        ) from None
    except RecursionError:  # Python's reader stops at about a thousand levels
        raise DatasetError(f"{path}: JSON nested far deeper than any released file (lists or objects within each "
                           f"other more than a thousand levels); {fix}") from None
