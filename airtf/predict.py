"""Instruments in audio files and the time ranges where each plays, for ``airtf-predict``.

An instrument is present when its clip probability reaches the threshold; it
is active in the frames whose per-frame probability (``frame_probabilities``,
see :mod:`airtf.export`) reaches the same threshold. Consecutive active
frames merge into one range ``[start, end]`` in seconds, a frame lasting one
frame hop (0.96 s for VGGish features, 0.01 s for log-mel frames), and ranges
less than :data:`MERGE_GAP_SECONDS` apart merge too (so that 10 ms log-mel
frames flickering around the threshold read as one passage); ranges end at
the end of the audio at the latest. Since the clip probability is an
attention-weighted mean of the per-frame ones, every present instrument has
at least one active range.

A file is read in blocks and its frame features are computed segment by
segment; the classifier then runs over chunks of those features
(:func:`classify`), so memory grows with the features only (128 numbers per
0.96 s for VGGish features, 64 per 10 ms for log-mel), never with the audio
or the model's activations of a whole file.
"""

import json
import warnings
from typing import NamedTuple

import numpy as np

from airtf import interrupts, params
from airtf.errors import AudioTooShortWarning

THRESHOLD = params.THRESHOLD
TIME_DECIMALS = 2
PROBABILITY_DIGITS = 4
"""Significant digits of the probabilities a Prediction holds."""
CHUNK_FRAMES = 4096
"""Frames the classifier scores at once (:func:`classify`)."""
BLOCK_SECONDS = 60.0
"""Seconds of audio read at once (:func:`stream_outputs`)."""


class Prediction(NamedTuple):
    """The instruments of one waveform.

    Attributes
    ----------
    instruments : dict
        Name -> probability of the present instruments, most probable first.
    active : dict
        Name -> list of ``[start, end]`` in seconds, for the same instruments.
    duration : float
        Length of the audio in seconds.
    probabilities : dict
        Name -> probability of every instrument, most probable first.
    threshold : float
        The probability at which an instrument is present.
    """

    instruments: dict
    active: dict
    duration: float
    probabilities: dict
    threshold: float


def runs_of_true(mask):
    """Where a boolean sequence is true, as runs of consecutive items.

    Parameters
    ----------
    mask : array_like of bool, shape (T,)

    Returns
    -------
    list of (int, int)
        ``(first, stop)`` of each run, ``mask[first:stop]`` all true, in
        order; ``[]`` when nothing is true.

    Examples
    --------
    >>> runs_of_true([0, 1, 1, 0, 1])
    [(1, 3), (4, 5)]
    """
    padded = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(first), int(stop)) for first, stop in zip(edges[::2], edges[1::2])]


MERGE_GAP_SECONDS = 0.5
"""Active ranges closer than this are joined (VGGish frames, 0.96 s apart, never are)."""


def active_ranges(frame_probabilities, frame_hop_seconds, threshold=THRESHOLD, duration=None,
                  merge_gap=MERGE_GAP_SECONDS):
    """Time ranges where one instrument's per-frame probability reaches ``threshold``.

    Parameters
    ----------
    frame_probabilities : array_like, shape (T,)
        The instrument's probability in each frame; frame ``k`` starts at
        ``k * frame_hop_seconds``.
    frame_hop_seconds : float
        Seconds from one frame to the next, also taken as a frame's length.
    threshold : float
        A frame is active where its probability is at least this.
    duration : float, optional
        Length of the audio in seconds; ranges are cut there (padding can
        make the last frame run past the end).
    merge_gap : float
        Ranges separated by less than this many seconds become one.

    Returns
    -------
    list of [float, float]
        ``[start, end]`` in seconds, rounded to 2 decimals, in order.
    """
    runs = []
    for first, stop in runs_of_true(np.asarray(frame_probabilities) >= threshold):
        if runs and (first - runs[-1][1]) * frame_hop_seconds < merge_gap:
            runs[-1] = (runs[-1][0], stop)
        else:
            runs.append((first, stop))
    ranges = []
    for first, stop in runs:
        end = stop * frame_hop_seconds if duration is None else min(stop * frame_hop_seconds, duration)
        ranges.append([round(first * frame_hop_seconds, TIME_DECIMALS), round(end, TIME_DECIMALS)])
    return ranges


def _chunks(count, size):
    return [slice(start, min(start + size, count)) for start in range(0, count, size)]


def clip_statistics(model, features, chunk_frames=CHUNK_FRAMES):
    """The classifier's GroupNormalization statistics of one clip, gathered over chunks of its frames.

    Parameters
    ----------
    model : airtf.export.Pipeline or airtf.export.ExportedModel
    features : np.ndarray (T, D)
        The clip's frame features.
    chunk_frames : int

    Returns
    -------
    np.ndarray
        float32 (layers, groups, 2): mean and variance over the clip's
        frames and each group's channels, layer by layer (each layer's from
        the normalised output of those before it), combined over chunks in
        float64 by Chan's formula.
    """
    statistics = np.zeros(model.statistics_shape, np.float32)
    for layer in range(model.statistics_layers):
        frames, mean, spread = 0, 0.0, 0.0  # spread: frames times variance
        for chunk in _chunks(len(features), chunk_frames):
            chunk_mean, chunk_variance = (np.asarray(value, np.float64)
                                          for value in model.group_moments(features[chunk], statistics, layer))
            size = chunk.stop - chunk.start
            total = frames + size
            delta = chunk_mean - mean
            mean = mean + delta * size / total
            spread = spread + chunk_variance * size + delta ** 2 * frames * size / total
            frames = total
        statistics[layer, :, 0] = mean
        statistics[layer, :, 1] = spread / frames
    return statistics


def classify(model, features, chunk_frames=CHUNK_FRAMES, attention=True):
    """The classifier's outputs for one clip's frame features, computed over chunks of frames.

    Equal (to float rounding) to the classifier on the whole clip, with
    activations of ``chunk_frames`` frames at a time.

    Parameters
    ----------
    model : airtf.export.Pipeline or airtf.export.ExportedModel
    features : np.ndarray (T, D), T > 0
    chunk_frames : int
    attention : bool
        Also return the attention (T, C), which costs as much memory as
        the per-frame probabilities.

    Returns
    -------
    dict
        ``probabilities`` (C,), ``frame_probabilities`` (T, C) and
        ``attention`` (T, C), float32 numpy arrays.
    """
    features = np.asarray(features, np.float32)
    statistics = clip_statistics(model, features, chunk_frames)
    probabilities = weights = None
    total = pooled = 0.0
    for chunk in _chunks(len(features), chunk_frames):
        chunk_weights, chunk_probabilities = model.chunk_scores(features[chunk], statistics)
        if probabilities is None:
            probabilities = np.empty((len(features), chunk_probabilities.shape[1]), np.float32)
            weights = np.empty_like(probabilities) if attention else None
        probabilities[chunk] = chunk_probabilities
        if attention:
            weights[chunk] = chunk_weights
        total = total + chunk_weights.sum(axis=0, dtype=np.float64)
        pooled = pooled + (chunk_weights * chunk_probabilities).sum(axis=0, dtype=np.float64)
    outputs = {"probabilities": np.clip(pooled / total, 0.0, 1.0).astype(np.float32),
               "frame_probabilities": probabilities}
    if attention:
        weights /= total.astype(np.float32)
        outputs["attention"] = weights
    return outputs


def stream_outputs(model, path, block_seconds=BLOCK_SECONDS):
    """The classifier's outputs for an audio file (or an :class:`airtf.audio.Waveform`), read in blocks.

    Returns
    -------
    outputs : dict
        ``probabilities`` and ``frame_probabilities``, as :func:`classify`.
    samples : int
        The file's length in 16 kHz samples.

    Raises
    ------
    AudioError
        For a file that cannot be read; the message names it.
    """
    from airtf import audio

    samples = 0

    def counted(blocks):
        nonlocal samples
        for block in blocks:
            samples += len(block)
            yield block

    expected = _expected_examples(path)
    blocks = counted(audio.stream(path, block_seconds=block_seconds))
    features, filled = None, 0
    for segment in audio.example_segments(blocks, pad=True):
        interrupts.raise_if_interrupted()
        frames = model.frame_features(segment)
        if features is None or filled + len(frames) > len(features):  # grown only where the header's length lied
            per_example = len(frames) // _segment_examples(len(segment))
            wanted = max(expected * per_example, filled + len(frames))
            grown = np.empty((wanted, frames.shape[1]), np.float32)
            if features is not None:
                grown[:filled] = features[:filled]
            features = grown
        features[filled:filled + len(frames)] = frames
        filled += len(frames)
    return classify(model, features[:filled], attention=False), samples


def _segment_examples(samples):
    """Examples in a segment of ``samples`` 16 kHz samples (one at least: short audio is padded to one)."""
    return max(1, 1 + (samples - params.EXAMPLE_SAMPLES) // params.EXAMPLE_HOP_SAMPLES)


def _expected_examples(path):
    """Examples in a file, from its header's length (see :func:`airtf.audio.info`), or in a Waveform."""
    from airtf import audio

    if isinstance(path, audio.Waveform):
        frames, sample_rate = len(path.samples), path.sample_rate
    else:
        described = audio.info(path)
        frames, sample_rate = described.frames, described.sample_rate
    return _segment_examples(audio.resampled_length(frames, sample_rate))


def predict(model, waveform, threshold=THRESHOLD):
    """The present instruments of a waveform and where each is active.

    Parameters
    ----------
    model : airtf.export.Pipeline or airtf.export.ExportedModel
        What :func:`airtf.export.load` returns.
    waveform : np.ndarray
        float32 mono 16 kHz samples, any length.
    threshold : float
        Probability at which an instrument is present, and a frame active.

    Returns
    -------
    Prediction
    """
    return _prediction(model, model(waveform), len(waveform), threshold)


def _prediction(model, outputs, samples, threshold):
    """A :class:`Prediction` from the classifier's outputs for ``samples`` samples of audio."""
    duration = samples / params.SAMPLE_RATE
    probabilities = outputs["probabilities"]
    ranked = {model.class_names[index]: float(f"{probabilities[index]:.{PROBABILITY_DIGITS}g}")
              for index in np.argsort(-probabilities, kind="stable")}
    present = [index for index in np.argsort(-probabilities, kind="stable") if probabilities[index] >= threshold]
    active = {model.class_names[index]: active_ranges(outputs["frame_probabilities"][:, index],
                                                      model.frame_hop_seconds, threshold, duration)
              for index in present}
    return Prediction({name: ranked[name] for name in active}, active, duration, ranked, threshold)


def format_probability(probability):
    """``0.912``; below 0.001 in scientific notation (``4.1e-04``), so that no probability shows as 0.000."""
    return f"{probability:.3f}" if probability >= 0.001 or probability == 0 else f"{probability:.1e}"


def predict_file(model, path, threshold=THRESHOLD, block_seconds=BLOCK_SECONDS):
    """:func:`predict` on an audio file of any length, format and rate, read in blocks.

    Raises
    ------
    AudioError
        For a file that cannot be read; the message names it.

    Warns
    -----
    AudioTooShortWarning
        When the audio is shorter than one 0.96 s example (it is zero-padded
        to one).
    """
    outputs, samples = stream_outputs(model, path, block_seconds)
    if samples < params.EXAMPLE_SAMPLES:
        warnings.warn(f"{path}: {AudioTooShortWarning.describe(samples)}; it was zero-padded to one",
                      AudioTooShortWarning, stacklevel=2)
    return _prediction(model, outputs, samples, threshold)


def format_ranges(ranges):
    """``[[0, 1.92], [5.76, 9.6]]`` -> ``"0.00-1.92, 5.76-9.60 s"``."""
    return ", ".join(f"{start:.2f}-{end:.2f}" for start, end in ranges) + " s"


def format_text(name, prediction, name_width=0):
    """A file's prediction as aligned lines for a terminal.

    Parameters
    ----------
    name : str
        The file, as the user named it.
    prediction : Prediction
    name_width : int
        Width of the instrument column (the longest class name, so that
        files line up with each other).

    Returns
    -------
    str
        A header line, then one line per present instrument: name,
        probability, active ranges (or the threshold and the most probable
        instrument when none is present). No trailing newline.
    """
    lines = [f"{name} ({prediction.duration:.2f} s)"]
    for instrument, probability in prediction.instruments.items():
        ranges = format_ranges(prediction.active[instrument])
        lines.append(f"  {instrument:<{name_width}}  {format_probability(probability)}  {ranges}")
    if not prediction.instruments:
        best, probability = next(iter(prediction.probabilities.items()))
        lines.append(f"  no instrument reaches {prediction.threshold:g} (the most probable: {best}, "
                     f"{format_probability(probability)})")
    return "\n".join(lines)


def to_json(predictions):
    """Predictions of several files as one JSON document.

    Parameters
    ----------
    predictions : dict
        File name -> :class:`Prediction`.

    Returns
    -------
    str
        ``{file: {"duration": seconds, "threshold": p, "instruments": {name: {"probability": p,
        "present": bool, "active": [[start, end], ...]}}}}``, every instrument, most probable first
        (``active`` is empty for those not present).
    """
    return json.dumps({name: {"duration": round(prediction.duration, TIME_DECIMALS),
                              "threshold": prediction.threshold,
                              "instruments": {instrument: {"probability": probability,
                                                           "present": instrument in prediction.active,
                                                           "active": prediction.active.get(instrument, [])}
                                              for instrument, probability in prediction.probabilities.items()}}
                       for name, prediction in predictions.items()})
