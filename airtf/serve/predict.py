"""Instruments in audio files and the time ranges where each plays, for ``airtf-predict``.

An instrument is present when its clip probability reaches the threshold; it
is active in the frames whose per-frame probability (``frame_probabilities``,
see :mod:`airtf.serve.export`) reaches the same threshold. Consecutive active
frames merge into one range ``[start, end]`` in seconds, a frame lasting one
frame hop (0.96 s for VGGish features, 0.01 s for log-mel frames), and ranges
less than :data:`MERGE_GAP_SECONDS` apart merge too (so that 10 ms log-mel
frames flickering around the threshold read as one passage); ranges end at
the end of the audio at the latest. Since the clip probability is an
attention-weighted mean of the per-frame ones, every present instrument has
at least one active range.

A file is read in blocks and its frame features are computed segment by
segment; the classifier runs over chunks of those features, one pass for
each GroupNormalization layer's clip statistics and one for the scores,
accumulating the attention pooling and the active ranges as it goes
(:class:`Clip`, :func:`score`). Features that fit in
:data:`FEATURE_MEMORY_BYTES` are kept between the passes; longer files are
read again for each pass, so memory does not grow with the length of the
audio (measured in tools/bench_predict_memory.py up to 24 hours).
"""

import json
import os
import warnings
from typing import NamedTuple

import numpy as np

from airtf import params
from airtf.errors import AudioTooShortWarning
from airtf.support import interrupts
from airtf.support.files import printable

THRESHOLD = params.THRESHOLD
TIME_DECIMALS = 2
PROBABILITY_DIGITS = 4
"""Significant digits of the probabilities a Prediction holds."""
CHUNK_FRAMES = 4096
"""Frames the classifier scores at once (:func:`classify`)."""
BLOCK_SECONDS = params.BLOCK_SECONDS
FEATURE_MEMORY_BYTES = 64 << 20
"""Frame features kept between the passes over a clip (:class:`Clip`): 64 MiB, 44 minutes of log-mel frames
or 36 hours of VGGish features (those beyond are computed again for each pass, 4 passes for GroupNormalization)."""


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
    probabilities = np.asarray(frame_probabilities, np.float32).reshape(-1, 1)
    runs = ActiveRuns(1, frame_hop_seconds, threshold, merge_gap)
    runs.add(probabilities)
    return runs.ranges(0, duration)


class ActiveRuns:
    """The runs of active frames of every instrument, gathered chunk by chunk as a clip streams by.

    Memory grows with the number of runs, not of frames: consecutive active
    frames are one run, and runs less than ``merge_gap`` apart merge as they
    come.

    Parameters
    ----------
    classes : int
    frame_hop_seconds, threshold, merge_gap
        As :func:`active_ranges` takes them.
    """

    def __init__(self, classes, frame_hop_seconds, threshold=THRESHOLD, merge_gap=MERGE_GAP_SECONDS):
        self.frame_hop_seconds = frame_hop_seconds
        self.threshold = threshold
        self.merge_gap = merge_gap
        self.frames = 0
        self._runs = [[] for _ in range(classes)]  # per class: [first, stop] frames

    def add(self, frame_probabilities):
        """Take the next chunk of frames: (t, classes) probabilities."""
        active = np.asarray(frame_probabilities) >= self.threshold
        for index, runs in enumerate(self._runs):
            for first, stop in runs_of_true(active[:, index]):
                first, stop = first + self.frames, stop + self.frames
                if runs and (runs[-1][1] == first or (first - runs[-1][1]) * self.frame_hop_seconds < self.merge_gap):
                    runs[-1][1] = stop
                else:
                    runs.append([first, stop])
        self.frames += len(active)

    def ranges(self, index, duration=None):
        """``[start, end]`` in seconds of class ``index``'s runs, cut at ``duration``, rounded to 2 decimals."""
        hop = self.frame_hop_seconds
        return [[round(first * hop, TIME_DECIMALS),
                 round(stop * hop if duration is None else min(stop * hop, duration), TIME_DECIMALS)]
                for first, stop in self._runs[index]]


def _chunks(count, size):
    return [slice(start, min(start + size, count)) for start in range(0, count, size)]


class Clip:
    """The frame features of one waveform or audio file, gone over chunk by chunk as often as needed.

    The first pass computes them from the audio, read in blocks; they are
    kept for the next passes while they take at most ``memory_bytes``
    (an hour of VGGish features takes 2 MB, an hour of log-mel frames
    92 MB), and computed again from the audio for each pass otherwise, so
    memory never grows with the length of the audio. Every pass gives the
    same chunks of ``chunk_frames`` frames (the last one shorter).

    Parameters
    ----------
    model : airtf.serve.export.Pipeline or airtf.serve.export.ExportedModel
    source : np.ndarray, str, os.PathLike or airtf.audio.Waveform
        The frame features themselves (T, D), or audio.
    block_seconds : float
        Audio read at once.
    chunk_frames : int
    memory_bytes : int

    Attributes
    ----------
    samples : int or None
        The audio's length in 16 kHz samples, once a pass has read it.
    """

    def __init__(self, model, source, block_seconds=BLOCK_SECONDS, chunk_frames=CHUNK_FRAMES,
                 memory_bytes=FEATURE_MEMORY_BYTES):
        self.model = model
        self.source = source
        self.block_seconds = block_seconds
        self.chunk_frames = chunk_frames
        self.memory_bytes = memory_bytes
        self.samples = None
        self._kept = None  # the chunks, once a pass has kept them
        if isinstance(source, np.ndarray):
            features = np.asarray(source, np.float32)
            self._kept = [features[chunk] for chunk in _chunks(len(features), chunk_frames)]

    def chunks(self):
        """Iterate over the frame features, (t, D) float32 chunks in order."""
        if self._kept is not None:
            yield from self._kept
            return
        kept, size = [], 0
        for chunk in _rechunked(self._frames(), self.chunk_frames):
            if kept is not None and not size:  # the first chunk: what the header's length says it all takes
                kept = kept if self._expected_bytes(chunk.shape[1]) <= self.memory_bytes else None
            if kept is not None:
                size += chunk.nbytes
                kept = kept + [chunk] if size <= self.memory_bytes else None  # a header can lie
            yield chunk
        if kept:
            self._kept = kept

    def _expected_bytes(self, width):
        """What the frame features of the audio take, ``width`` floats a frame, from the length its header gives."""
        from airtf import audio

        if isinstance(self.source, audio.Waveform):
            frames, sample_rate = len(self.source.samples), self.source.sample_rate
        else:
            described = audio.info(self.source)
            frames, sample_rate = described.frames, described.sample_rate
        samples = audio.resampled_length(frames, sample_rate) + 2 * self.model.edge_samples
        examples = max(1, 1 + (samples - self.model.example_samples) // self.model.hop_samples)
        hop_seconds = self.model.hop_samples / params.SAMPLE_RATE
        return examples * round(hop_seconds / self.model.frame_hop_seconds) * width * 4

    def _frames(self):
        """Frame features segment by segment, computed from the audio; records its length in samples."""
        from airtf import audio

        samples = 0

        def counted(blocks):
            nonlocal samples
            for block in blocks:
                samples += len(block)
                yield block

        blocks = counted(audio.stream(self.source, block_seconds=self.block_seconds))
        for segment in audio.segments_for(blocks, self.model, pad=True):
            interrupts.raise_if_interrupted()
            yield self.model.frame_features(segment)
        self.samples = samples


def _rechunked(pieces, size):
    """Arrays of ``size`` rows (the last one shorter) from arrays of any number of rows, in order."""
    buffer, held = [], 0
    for piece in pieces:
        buffer.append(piece)
        held += len(piece)
        if held < size:
            continue
        joined = np.concatenate(buffer)
        whole = len(joined) // size * size
        for start in range(0, whole, size):
            yield joined[start:start + size]
        buffer, held = [joined[whole:]], len(joined) - whole
    if held:
        yield np.concatenate(buffer)


def clip_statistics(model, clip):
    """The classifier's GroupNormalization statistics of one clip, gathered over chunks of its frames.

    Parameters
    ----------
    model : airtf.serve.export.Pipeline or airtf.serve.export.ExportedModel
    clip : Clip
        One pass over it per layer.

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
        for chunk in clip.chunks():
            chunk_mean, chunk_variance = (np.asarray(value, np.float64)
                                          for value in model.group_moments(chunk, statistics, layer))
            size = len(chunk)
            total = frames + size
            delta = chunk_mean - mean
            mean = mean + delta * size / total
            spread = spread + chunk_variance * size + delta ** 2 * frames * size / total
            frames = total
        statistics[layer, :, 0] = mean
        statistics[layer, :, 1] = spread / frames
    return statistics


def score(model, clip, threshold=THRESHOLD, keep_frames=False):
    """The classifier over a clip: its statistics, then one scoring pass, accumulating the attention pooling.

    Parameters
    ----------
    model : airtf.serve.export.Pipeline or airtf.serve.export.ExportedModel
    clip : Clip
    threshold : float
        Where a frame is active (:class:`ActiveRuns`).
    keep_frames : bool
        Also keep the per-frame outputs (memory grows with the clip).

    Returns
    -------
    probabilities : np.ndarray
        float32 (C,): the attention-weighted mean of the per-frame
        probabilities, accumulated in float64 over chunks.
    runs : ActiveRuns
    frames : dict
        With ``keep_frames``: ``frame_probabilities`` and ``attention`` (T, C) float32; else empty.
    """
    statistics = clip_statistics(model, clip)
    runs = ActiveRuns(len(model.class_names), model.frame_hop_seconds, threshold)
    total = pooled = 0.0
    kept = {"frame_probabilities": [], "attention": []}
    for chunk in clip.chunks():
        weights, probabilities = model.chunk_scores(chunk, statistics)
        total = total + weights.sum(axis=0, dtype=np.float64)
        pooled = pooled + (weights * probabilities).sum(axis=0, dtype=np.float64)
        runs.add(probabilities)
        if keep_frames:
            kept["frame_probabilities"].append(probabilities)
            kept["attention"].append(weights)
    frames = {}
    if keep_frames:
        frames = {name: np.concatenate(values) for name, values in kept.items()}
        frames["attention"] /= total.astype(np.float32)
    return np.clip(pooled / total, 0.0, 1.0).astype(np.float32), runs, frames


def classify(model, features, chunk_frames=CHUNK_FRAMES):
    """The classifier's outputs for one clip's frame features (T, D), T > 0, computed over chunks of frames.

    Equal (to float rounding) to the classifier on the whole clip, with
    activations of ``chunk_frames`` frames at a time.

    Returns
    -------
    dict
        ``probabilities`` (C,), ``frame_probabilities`` (T, C) and
        ``attention`` (T, C), float32 numpy arrays.
    """
    clip = Clip(model, np.asarray(features, np.float32), chunk_frames=chunk_frames)
    probabilities, _, frames = score(model, clip, keep_frames=True)
    return {"probabilities": probabilities, **frames}


def stream_outputs(model, path, block_seconds=BLOCK_SECONDS):
    """The classifier's outputs for an audio file (or an :class:`airtf.audio.Waveform`), read in blocks.

    Returns
    -------
    outputs : dict
        ``probabilities`` (C,) and ``frame_probabilities`` (T, C): the
        per-frame outputs grow with the audio (:func:`predict_file` keeps
        none).
    samples : int
        The file's length in 16 kHz samples.

    Raises
    ------
    AudioError
        For a file that cannot be read; the message names it.
    """
    clip = Clip(model, path, block_seconds)
    probabilities, _, frames = score(model, clip, keep_frames=True)
    return {"probabilities": probabilities, "frame_probabilities": frames["frame_probabilities"]}, clip.samples


def predict(model, waveform, threshold=THRESHOLD):
    """The present instruments of a waveform and where each is active.

    Parameters
    ----------
    model : airtf.serve.export.Pipeline or airtf.serve.export.ExportedModel
        What :func:`airtf.serve.export.load` returns.
    waveform : np.ndarray
        float32 mono 16 kHz samples, any length.
    threshold : float
        Probability at which an instrument is present, and a frame active.

    Returns
    -------
    Prediction
    """
    outputs = model(waveform)
    runs = ActiveRuns(len(model.class_names), model.frame_hop_seconds, threshold)
    runs.add(outputs["frame_probabilities"])
    return _prediction(model, outputs["probabilities"], runs, len(waveform), threshold)


def _prediction(model, probabilities, runs, samples, threshold):
    """A :class:`Prediction` from the clip probabilities and active runs of ``samples`` samples of audio."""
    duration = samples / params.SAMPLE_RATE
    order = np.argsort(-probabilities, kind="stable")
    ranked = {model.class_names[index]: float(f"{probabilities[index]:.{PROBABILITY_DIGITS}g}") for index in order}
    active = {model.class_names[index]: runs.ranges(index, duration)
              for index in order if probabilities[index] >= threshold}
    return Prediction({name: ranked[name] for name in active}, active, duration, ranked, threshold)


def format_probability(probability):
    """``0.912``; below 0.001 in scientific notation (``4.1e-04``), so that no probability shows as 0.000."""
    return f"{probability:.3f}" if probability >= 0.001 or probability == 0 else f"{probability:.1e}"


def predict_file(model, path, threshold=THRESHOLD, block_seconds=BLOCK_SECONDS):
    """:func:`predict` on an audio file of any length, format and rate, in memory independent of its length.

    The file is read in blocks, once for each pass the classifier needs
    (see :class:`Clip`: the GroupNormalization statistics layer by layer,
    then the scores) unless its frame features fit in
    :data:`FEATURE_MEMORY_BYTES`; the attention pooling and the active
    ranges accumulate as the scores stream by.

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
    clip = Clip(model, path, block_seconds)
    probabilities, runs, _ = score(model, clip, threshold)
    needed = model.example_samples - 2 * model.edge_samples
    if clip.samples < needed:
        described = AudioTooShortWarning.describe(clip.samples, None if needed == params.EXAMPLE_SAMPLES else needed)
        warnings.warn(AudioTooShortWarning(f"{printable(str(path))}: {described}; it was zero-padded to one"),
                      stacklevel=2)
    return _prediction(model, probabilities, runs, clip.samples, threshold)


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
    """Predictions of several files as one JSON document (see :func:`json_entry`).

    Parameters
    ----------
    predictions : dict
        File name -> :class:`Prediction`.

    Returns
    -------
    str
        ``{file: entry, ...}``.
    """
    return "{" + ",".join(json_entry(name, prediction) for name, prediction in predictions.items()) + "}"


def json_entry(name, prediction):
    """One file's prediction as a member of the JSON document, for writing as it comes.

    Returns
    -------
    str
        ``"file": {"duration": seconds, "threshold": p, "instruments": {name: {"probability": p,
        "present": bool, "active": [[start, end], ...]}}}``, every instrument, most probable first
        (``active`` is empty for those not present); a file name that is not valid UTF-8 keeps its
        bytes as ``\\udcXX`` escapes, which Python's ``json`` reads back to the same name.
    """
    entry = {"duration": round(prediction.duration, TIME_DECIMALS), "threshold": prediction.threshold,
             "instruments": {instrument: {"probability": probability, "present": instrument in prediction.active,
                                          "active": prediction.active.get(instrument, [])}
                             for instrument, probability in prediction.probabilities.items()}}
    return f"{json.dumps(os.fsdecode(name))}:{json.dumps(entry)}"
