"""Instruments in audio files and the time ranges where each plays, for ``airtf-predict``.

An instrument is present when its clip probability reaches the threshold; it
is active in the frames whose per-frame probability (``frame_probabilities``,
see :mod:`airtf.export`) reaches the same threshold. Consecutive active
frames merge into one range ``[start, end]`` in seconds, a frame lasting one
frame hop (0.96 s for VGGish features, 0.01 s for log-mel frames); ranges end
at the end of the audio at the latest. Since the clip probability is an
attention-weighted mean of the per-frame ones, every present instrument has
at least one active range.
"""

import json
import warnings
from typing import NamedTuple

import numpy as np

from airtf import params
from airtf.errors import AudioTooShortWarning

THRESHOLD = 0.5
TIME_DECIMALS = 2
PROBABILITY_DECIMALS = 4


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
    """

    instruments: dict
    active: dict
    duration: float


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


def active_ranges(frame_probabilities, frame_hop_seconds, threshold=THRESHOLD, duration=None):
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

    Returns
    -------
    list of [float, float]
        ``[start, end]`` in seconds, rounded to 2 decimals, in order.
    """
    active = np.asarray(frame_probabilities) >= threshold
    ranges = []
    for first, stop in runs_of_true(active):
        end = stop * frame_hop_seconds if duration is None else min(stop * frame_hop_seconds, duration)
        ranges.append([round(first * frame_hop_seconds, TIME_DECIMALS), round(end, TIME_DECIMALS)])
    return ranges


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
    outputs = model(waveform)
    duration = len(waveform) / params.SAMPLE_RATE
    probabilities = outputs["probabilities"]
    present = [index for index in np.argsort(-probabilities, kind="stable") if probabilities[index] >= threshold]
    instruments = {model.class_names[index]: round(float(probabilities[index]), PROBABILITY_DECIMALS)
                   for index in present}
    active = {model.class_names[index]: active_ranges(outputs["frame_probabilities"][:, index],
                                                      model.frame_hop_seconds, threshold, duration)
              for index in present}
    return Prediction(instruments, active, duration)


def predict_file(model, path, threshold=THRESHOLD):
    """:func:`predict` on an audio file read with :func:`airtf.audio.read` (any format and rate).

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
    from airtf import audio

    waveform = audio.read(path)
    if len(waveform) < params.EXAMPLE_SAMPLES:
        warnings.warn(f"{path}: {len(waveform) / params.SAMPLE_RATE:.2f} s is shorter than one "
                      f"{params.EXAMPLE_WINDOW_SECONDS} s example; it was zero-padded to one",
                      AudioTooShortWarning, stacklevel=2)
    return predict(model, waveform, threshold)


def format_ranges(ranges):
    """``[[0, 1.92], [5.76, 9.6]]`` -> ``"0.00-1.92, 5.76-9.60 s"``."""
    return ", ".join(f"{start:.2f}-{end:.2f}" for start, end in ranges) + " s"


def format_text(name, prediction, threshold=THRESHOLD, name_width=0):
    """A file's prediction as aligned lines for a terminal.

    Parameters
    ----------
    name : str
        The file, as the user named it.
    prediction : Prediction
    threshold : float
        Named when no instrument reaches it.
    name_width : int
        Width of the instrument column (the longest class name, so that
        files line up with each other).

    Returns
    -------
    str
        A header line, then one line per present instrument: name,
        probability, active ranges. No trailing newline.
    """
    lines = [f"{name} ({prediction.duration:.2f} s)"]
    for instrument, probability in prediction.instruments.items():
        ranges = format_ranges(prediction.active[instrument])
        lines.append(f"  {instrument:<{name_width}}  {probability:.2f}  {ranges}")
    if not prediction.instruments:
        lines.append(f"  no instrument reaches {threshold:.2f}")
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
        ``{file: {"instruments": {name: probability}, "active": {name: [[start, end], ...]}}}``.
    """
    return json.dumps({name: {"instruments": prediction.instruments, "active": prediction.active}
                       for name, prediction in predictions.items()})
