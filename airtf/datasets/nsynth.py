"""NSynth, in either released format, as tf.data of log-mel examples and note labels.

Both formats of a split are read as released; :func:`load` finds which one a
folder holds::

    ROOT/
    ├── nsynth-train.tfrecord        TFRecord format: one tf.train.Example per note,
    │                                in one file or a folder of shards (the .tfrecord.tar)
    └── nsynth-valid/                json/wav format
        ├── examples.json            {note_str: {"pitch": 60, "qualities": [0, 1, ...], ...}}
        └── audio/
            └── <note_str>.wav       16 kHz mono, 4 s

A folder of shards is read with interleaved parallel reads, in a fixed order.

A note lasts 4 s (64,000 samples) and gives four 0.96 s VGGish examples, at
0, 0.96, 1.92 and 2.88 s; the ``examples`` option of :func:`load` chooses
which of them are used (see :mod:`airtf.datasets.sounds`; default: the first, as
notes start at their onset).
"""

import os
import re
from pathlib import Path
from types import MappingProxyType

import numpy as np

from airtf import params
from airtf.datasets import pipeline, sounds
from airtf.datasets.base import Dataset, Report
from airtf.datasets.pipeline import AUTOTUNE, DatasetError

NOTE_SECONDS = 4
NOTE_SAMPLES = NOTE_SECONDS * params.SAMPLE_RATE
EXAMPLES_PER_NOTE = 1 + (NOTE_SAMPLES - params.EXAMPLE_SAMPLES) // params.EXAMPLE_HOP_SAMPLES  # 4

QUALITIES = (
    "bright", "dark", "distortion", "fast_decay", "long_release",
    "multiphonic", "nonlinear_env", "percussive", "reverb", "tempo-synced",
)
"""NSynth's note qualities, in the order of the ``qualities`` vector."""

FAMILIES = (
    "bass", "brass", "flute", "guitar", "keyboard", "mallet",
    "organ", "reed", "string", "synth_lead", "vocal",
)
"""Instrument families, indexed by ``instrument_family``."""

SOURCES = ("acoustic", "electronic", "synthetic")
"""Instrument sources, indexed by ``instrument_source``."""

PAPER_WORD_MAP = MappingProxyType({
    **{quality: quality for quality in QUALITIES},
    "fast_decay": "decay",
    "long_release": "presence",
    "nonlinear_env": "modulation",
    "tempo-synced": "rhythmic",
})
"""The word standing for each quality in the paper's textual objective."""

SPLITS = ("train", "valid", "test")
PRETRAINING_SPLITS = ("train", "valid")
"""The splits pre-training reads; a folder without test is still usable."""
FORMATS = ("tfrecord", "json")
PARALLEL_READS = 16
"""TFRecord shards read at once."""
_RECORD_FRAMING_BYTES = 16
"""A TFRecord stores each record with its length and two CRCs around it."""
DOWNLOAD_URL = "https://magenta.tensorflow.org/datasets/nsynth"

_INTEGER_LABELS = MappingProxyType({
    "family": "instrument_family",
    "source": "instrument_source",
    "instrument": "instrument",
    "pitch": "pitch",
    "velocity": "velocity",
})
"""Integer labels of a note and the released field each comes from."""

_CLASS_COUNTS = MappingProxyType({"instrument_family": len(FAMILIES), "instrument_source": len(SOURCES)})

_RECORD_FEATURES = MappingProxyType({
    "note_str": ("string", 1),
    "sample_rate": ("int64", 1),
    "audio": ("float32", NOTE_SAMPLES),
    "qualities": ("int64", len(QUALITIES)),
    **{field: ("int64", 1) for field in _INTEGER_LABELS.values()},
})
"""Features every TFRecord note must have: (dtype, number of values)."""


def word_map(overrides=None):
    """The word for each quality, for the textual objective.

    Parameters
    ----------
    overrides : mapping of str to str or None
        Words replacing those of :data:`PAPER_WORD_MAP`, keyed by quality,
        e.g. ``{"multiphonic": "polyphonic"}``.

    Returns
    -------
    dict
        Every quality of :data:`QUALITIES`, in that order, to its word.

    Raises
    ------
    ValueError
        A key is not a quality, or a word is not a non-empty string.
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(QUALITIES), key=str)
    if unknown:
        raise ValueError(f"not NSynth qualities: {unknown}; the qualities are {', '.join(QUALITIES)}")
    for quality, word in overrides.items():
        if not isinstance(word, str) or not word.strip():
            raise ValueError(f"the word for {quality!r} must be a non-empty string, got {word!r}")
    return {quality: overrides.get(quality, PAPER_WORD_MAP[quality]) for quality in QUALITIES}


def split_files(root, split):
    """Where each format keeps a split.

    Returns
    -------
    dict
        ``{"tfrecord": ROOT/nsynth-<split>.tfrecord (a file or a folder of shards),
        "json": ROOT/nsynth-<split>/examples.json}``.
    """
    root = Path(root)
    return {"tfrecord": root / f"nsynth-{split}.tfrecord", "json": root / f"nsynth-{split}" / "examples.json"}


def _splits_present(root):
    """Names of the splits ``root`` holds in either format, the released ones first in their order."""
    records = {path.name[len("nsynth-"):-len(".tfrecord")] for path in Path(root).glob("nsynth-*.tfrecord")}
    folders = {path.parent.name[len("nsynth-"):] for path in Path(root).glob("nsynth-*/examples.json")}
    present = records | folders
    return [split for split in SPLITS if split in present] + sorted(present - set(SPLITS))


def detect_format(root, split, format=None):
    """The format in which ``root`` holds ``split``.

    Parameters
    ----------
    root : str or os.PathLike
        The folder holding ``nsynth-<split>.tfrecord`` or ``nsynth-<split>/``.
    split : str
        "train", "valid" or "test".
    format : {"tfrecord", "json"} or None
        Require this format; None takes the TFRecord where both are present.

    Returns
    -------
    str
        "tfrecord" or "json".

    Raises
    ------
    DatasetError
        The split is not there (in the required format).
    """
    if format is not None and format not in FORMATS:
        raise ValueError(f"format={format!r}: use one of {FORMATS} or None to detect it")
    files = split_files(root, split)
    candidates = FORMATS if format is None else (format,)
    for candidate in candidates:
        if files[candidate].is_file() or (candidate == "tfrecord" and files[candidate].is_dir()):
            return candidate
    present = _splits_present(root) if Path(root).is_dir() else []
    found = f" (it holds the splits: {', '.join(present)})" if present else ""
    expected = " or ".join(str(files[candidate]) for candidate in candidates)
    raise DatasetError(
        f"{root}: no NSynth {split!r} split{found}: expected {expected}; "
        f"download it from {DOWNLOAD_URL} or pass the folder that holds it"
    )


def _json_problem(path, note, problem):
    return DatasetError(
        f"{path}: note {note!r} {problem}; examples.json is damaged or not NSynth's — "
        f"re-download the json/wav split from {DOWNLOAD_URL}"
    )


def _integer_field(path, note, fields, field):
    value = fields.get(field)
    if value is None:
        raise _json_problem(path, note, f"lacks the field {field!r}")
    if not isinstance(value, int) or isinstance(value, bool):
        raise _json_problem(path, note, f"has {field} = {value!r}, not an integer")
    if field in _CLASS_COUNTS and not 0 <= value < _CLASS_COUNTS[field]:
        raise _json_problem(path, note, f"has {field} = {value}, outside 0..{_CLASS_COUNTS[field] - 1}")
    return value


def _quality_vector(path, note, fields):
    qualities = fields.get("qualities")
    if qualities is None:
        raise _json_problem(path, note, "lacks the field 'qualities'")
    if not isinstance(qualities, list) or len(qualities) != len(QUALITIES):
        count = len(qualities) if isinstance(qualities, list) else type(qualities).__name__
        raise _json_problem(path, note, f"has qualities of length {count}, expected {len(QUALITIES)} 0/1 values")
    if any(value not in (0, 1) or isinstance(value, bool) for value in qualities):
        raise _json_problem(path, note, f"has qualities {qualities}, expected 0/1 values")
    return qualities


NOTE_NAME = re.compile(r"[a-z]+(?:_[a-z]+)*_[0-9]{3}-[0-9]{3}-[0-9]{3}")
"""An NSynth note_str: instrument_str (family_source_number), pitch and velocity, e.g. bass_synthetic_033-022-050."""


def _note_labels(path, note, fields):
    """The labels of one examples.json entry, validated."""
    if not NOTE_NAME.fullmatch(note):  # it becomes a file name: audio/<note_str>.wav
        raise DatasetError(f"{path}: note {note!r} is not an NSynth note_str (e.g. bass_synthetic_033-022-050); "
                           "fix or remove it")
    if not isinstance(fields, dict):
        raise _json_problem(path, note, f"is a {type(fields).__name__}, not an object of fields")
    labels = {label: _integer_field(path, note, fields, field) for label, field in _INTEGER_LABELS.items()}
    return {**labels, "qualities": _quality_vector(path, note, fields), "note_str": note}


def read_notes(path, limit=None):
    """Read and validate an examples.json file.

    Parameters
    ----------
    path : str or os.PathLike
        ``nsynth-<split>/examples.json``.
    limit : int or None
        Read only the first ``limit`` notes.

    Returns
    -------
    dict of np.ndarray
        One row per note, in file order: "qualities" float32 (n, 10) multi-hot;
        "family", "source", "instrument", "pitch", "velocity" int64 (n,);
        "note_str" str (n,).

    Raises
    ------
    DatasetError
        The file is unreadable, not JSON, empty, or a note lacks a field or
        has a bad value.
    """
    notes = pipeline.read_json(path, f"re-download the json/wav split from {DOWNLOAD_URL}")
    if not isinstance(notes, dict) or not notes:
        raise DatasetError(
            f"{path}: expected a non-empty object {{note_str: {{fields}}}}; examples.json is damaged "
            f"or not NSynth's — re-download the json/wav split from {DOWNLOAD_URL}"
        )
    rows = [_note_labels(path, note, notes[note]) for note in list(notes)[:limit]]
    labels = {label: np.asarray([row[label] for row in rows], np.int64) for label in _INTEGER_LABELS}
    labels["qualities"] = np.asarray([row["qualities"] for row in rows], np.float32)
    labels["note_str"] = np.asarray([row["note_str"] for row in rows], str)
    return labels


def _wav_paths(notes_file, note_strs):
    """The wav file of each note, checked to exist."""
    audio_dir = Path(notes_file).parent / "audio"
    paths = [audio_dir / f"{note}.wav" for note in note_strs]
    missing = pipeline.missing_files(paths)
    if missing:
        raise DatasetError(
            f"{missing[0]}: not found, but its note is listed in {notes_file} ({len(missing)} of "
            f"{len(paths)} notes have no wav); re-extract the split's archive or remove those notes"
        )
    return paths


def _json_dataset(notes_file, limit, resampler, cache_dir, num_parallel_calls):
    """Elements (examples (4, 96, 64), labels) from examples.json and the wav files."""
    import tensorflow as tf

    labels = read_notes(notes_file, limit)
    paths = _wav_paths(notes_file, labels["note_str"])
    examples = pipeline.log_mel_dataset(
        paths, resampler=resampler, cache_dir=cache_dir, num_parallel_calls=num_parallel_calls
    )
    return tf.data.Dataset.zip((examples, tf.data.Dataset.from_tensor_slices(labels)))


def _record_fix(path):
    return f"{Path(path).name} is damaged or not an NSynth TFRecord — re-download it from {DOWNLOAD_URL}"


def _checked_feature(values, name, length, path):
    """``values`` reshaped to ``(length,)``, failing with a message naming the file if it has another size.

    The message avoids quotes, which graph assertions print escaped.
    """
    import tensorflow as tf

    check = tf.debugging.assert_equal(
        tf.size(values), length,
        message=f"{path}: feature {name} of a record must hold {length} value(s) but is missing or "
                f"holds another number; {_record_fix(path)}",
    )
    with tf.control_dependencies([check]):
        return tf.reshape(values, [length])


def parse_record(record, path):
    """Parse one serialized NSynth tf.train.Example, checking every feature.

    Parameters
    ----------
    record : tf.Tensor
        Scalar string, a serialized tf.train.Example.
    path : str or os.PathLike
        The TFRecord file, named in errors.

    Returns
    -------
    audio : tf.Tensor
        float32 (64000,).
    labels : dict of tf.Tensor
        As the rows of :func:`read_notes`, one note.

    Raises
    ------
    tf.errors.InvalidArgumentError
        A feature is missing or of the wrong length (the message names the
        file), or the audio is not at 16 kHz.
    """
    import tensorflow as tf

    spec = {name: tf.io.VarLenFeature(tf.as_dtype(dtype)) for name, (dtype, _) in _RECORD_FEATURES.items()}
    parsed = tf.io.parse_single_example(record, spec)
    values = {
        name: _checked_feature(parsed[name].values, name, length, path)
        for name, (_, length) in _RECORD_FEATURES.items()
    }
    rate_check = tf.debugging.assert_equal(
        values["sample_rate"][0], tf.constant(params.SAMPLE_RATE, tf.int64),
        message=f"{path}: sample_rate of a record is not {params.SAMPLE_RATE}; {_record_fix(path)}",
    )
    with tf.control_dependencies([rate_check]):
        audio = tf.identity(values["audio"])
    labels = {label: values[field][0] for label, field in _INTEGER_LABELS.items()}
    labels["qualities"] = tf.cast(values["qualities"], tf.float32)
    labels["note_str"] = values["note_str"][0]
    return audio, labels


def record_files(path):
    """The TFRecord files of a split: ``path`` itself, or the shards in the folder ``path``, sorted.

    Raises
    ------
    DatasetError
        ``path`` is a folder without shards.
    """
    path = Path(path)
    if not path.is_dir():
        return [path]
    shards = sorted(file for file in path.rglob("*") if file.is_file() and not file.name.startswith("."))
    if not shards:
        raise DatasetError(f"{path}: a folder of TFRecord shards that holds none; unpack "
                           f"{path.name}.tar into it again (airtf-data download nsynth --format tfrecord)")
    return shards


def _records(path, limit=None):
    """The serialized notes of a split's TFRecord file or shards.

    Up to :data:`PARALLEL_READS` shards are read at once, their records
    interleaved one by one; the order depends on the shards alone, not on
    the machine.
    """
    import tensorflow as tf

    files = [os.fspath(file) for file in record_files(path)]
    records = tf.data.TFRecordDataset(files, num_parallel_reads=min(len(files), PARALLEL_READS))
    return records if limit is None else records.take(limit)


def _check_first_record(path):
    """Parse the first record (of the first shard) eagerly, so that a wrong file fails at load time."""
    import tensorflow as tf

    first_file = record_files(path)[0]
    try:
        first = next(iter(_records(first_file, limit=1)), None)
        if first is None:
            raise DatasetError(f"{first_file}: holds no records; {_record_fix(first_file)}")
        parse_record(first, first_file)
    except tf.errors.OpError as error:
        message = error.message.splitlines()[0]
        if not message.startswith(os.fspath(first_file)):
            message = f"{first_file}: cannot parse its first record ({message}); {_record_fix(first_file)}"
        raise DatasetError(message) from None


def bad_record(path, progress=None):
    """The first record of a split's TFRecord file or shards that cannot be read or parsed, as a one-line error.

    Every record of every shard is read in file order and parsed as
    training parses it (every feature checked); this is where the errors
    that tf.data meets while a split streams into training (a truncated
    file, a record whose checksum fails, a record that lacks a feature) are
    found and named: file, record index and byte offset.

    Parameters
    ----------
    path : str or os.PathLike
        ``nsynth-<split>.tfrecord``, a file or a folder of shards.
    progress : callable or None
        Called with the number of records read, every few hundred.

    Returns
    -------
    DatasetError or None
        None when every record is good.
    """
    import tensorflow as tf

    for file in record_files(path):
        read = 0
        checked = tf.data.TFRecordDataset([os.fspath(file)]).map(lambda record: parse_record(record, file)[1]["pitch"])
        try:
            for read, _ in enumerate(checked, start=1):
                if progress is not None and read % PROGRESS_RECORDS == 0:
                    progress(PROGRESS_RECORDS)
        except tf.errors.OpError as error:
            return DatasetError(_record_problem(file, read, error))
        if progress is not None:
            progress(read % PROGRESS_RECORDS)
    return None


PROGRESS_RECORDS = 256
"""Records between two progress updates of :func:`bad_record`."""


def _record_problem(file, index, error):
    """What is wrong with record ``index`` of ``file``, from the error tf.data raised reading it."""
    message = error.message.splitlines()[0]
    offset = re.search(r"record at (\d+)", message)
    at = f"record {index} (byte {offset[1]})" if offset else f"record {index}"
    import tensorflow as tf

    if isinstance(error, tf.errors.DataLossError):
        what = "is cut short: the file ends inside it" if "truncated" in message else \
            "fails its checksum (corrupted)"
        return f"{file}: {at} {what}; {_record_fix(file)}"
    checked = re.search(r"assertion failed: \[(.+?)\] \[", message)  # parse_record's checks name the feature
    if checked and checked[1].startswith(f"{os.fspath(file)}: "):
        return f"{file}: {at}: {checked[1][len(os.fspath(file)) + 2:]}"
    return f"{file}: {at} cannot be parsed ({message}); {_record_fix(file)}"


def _tfrecord_dataset(path, limit, num_parallel_calls):
    """Elements (examples (4, 96, 64), labels) from an NSynth TFRecord file or folder of shards."""
    from airtf.vggish.audio_converter import LogMelExamples

    _check_first_record(path)
    frontend = LogMelExamples()

    def examples_and_labels(record):
        audio, labels = parse_record(record, path)
        return frontend(audio), labels

    return _records(path, limit).map(
        examples_and_labels, num_parallel_calls=num_parallel_calls, deterministic=True)


def load(root, split="train", *, format=None, examples="first", limit=None, resampler="resampy", cache_dir=None,
         num_parallel_calls=AUTOTUNE):
    """NSynth notes as a tf.data.Dataset of log-mel examples and labels.

    Parameters
    ----------
    root : str or os.PathLike
        The folder holding ``nsynth-<split>.tfrecord`` or ``nsynth-<split>/``.
    split : str
        "train" (default), "valid" or "test".
    format : {"tfrecord", "json"} or None
        Which format to read; None (default) detects it, preferring the
        TFRecord where both are present. Both give the same elements.
    examples : {"first", "all"} or sequence of int
        Which 0.96 s examples of each note to use (default "first"; see
        :mod:`airtf.datasets.sounds`). Indices go from 0 to 3.
    limit : int or None
        Use only the first ``limit`` notes of the split.
    resampler : {"resampy", "soxr"}
        For wav files not at 16 kHz (see :func:`airtf.audio.resample`).
    cache_dir : str or os.PathLike or None
        json/wav format only: keep the log-mel examples of each wav there
        (see :func:`airtf.datasets.pipeline.log_mel_dataset`).
    num_parallel_calls : int
        Notes decoded at once (default AUTOTUNE).

    Returns
    -------
    tf.data.Dataset
        Elements ``(example, labels)``, one per chosen example of each note,
        in the split's order: example float32 (96, 64); labels a dict of
        "qualities" float32 (10,) multi-hot in :data:`QUALITIES` order,
        "family" (index into :data:`FAMILIES`), "source" (into
        :data:`SOURCES`), "instrument", "pitch", "velocity" int64 scalars and
        "note_str" string.

    Raises
    ------
    DatasetError
        The split is missing, examples.json is malformed, a note has no wav,
        or the TFRecord's first record lacks a feature or has the wrong audio
        length. Later records with such faults fail during iteration, with a
        ``tf.errors.InvalidArgumentError`` naming the file.
    """
    indices = sounds.example_indices(examples, available=EXAMPLES_PER_NOTE)
    found = detect_format(root, split, format)
    path = split_files(root, split)[found]
    if found == "json":
        notes = _json_dataset(path, limit, resampler, cache_dir, num_parallel_calls)
    elif cache_dir is not None:
        raise ValueError(
            "cache_dir caches the log-mel of audio files, which the TFRecord format does not have; "
            "leave it out, or pass format='json' for a json/wav copy"
        )
    else:
        notes = _tfrecord_dataset(path, limit, num_parallel_calls)
    return sounds.one_example_per_element(notes, indices)


def count_notes(root, split, limit=None):
    """How many notes a split holds (at most ``limit``), without decoding any audio.

    examples.json is counted; TFRecord files are sized: their bytes over
    the bytes of the first record, as NSynth's records differ only by a few
    bytes of names in a quarter of a megabyte of audio.

    Returns
    -------
    count : int
    exact : bool
        False where the count is estimated from the TFRecord's size.
    """
    found = detect_format(root, split)
    path = split_files(root, split)[found]
    if found == "json":
        count, exact = len(pipeline.read_json(path, f"re-download the json/wav split from {DOWNLOAD_URL}")), True
    else:
        first = next(iter(_records(record_files(path)[0], limit=1)), None)
        record_bytes = len(first.numpy()) + _RECORD_FRAMING_BYTES if first is not None else 0
        total = sum(file.stat().st_size for file in record_files(path))
        count, exact = (round(total / record_bytes) if record_bytes else 0), False
    return (count, exact) if limit is None or limit >= count else (limit, exact)


def _record_labels(path, limit=None):
    """The labels of a TFRecord's notes, as :func:`read_notes` gives those of examples.json."""
    rows = [labels for _, labels in _records(path, limit).map(lambda record: parse_record(record, path)).as_numpy_iterator()]
    labels = {label: np.asarray([row[label] for row in rows], np.int64) for label in _INTEGER_LABELS}
    labels["qualities"] = np.asarray([row["qualities"] for row in rows], np.float32).reshape(-1, len(QUALITIES))
    labels["note_str"] = np.asarray([row["note_str"].decode() for row in rows], str)
    return labels


class NSynth(Dataset):
    """NSynth in either released format (see the module docstring).

    ``splits`` are those present; ``labels(split)`` as :func:`read_notes`
    gives them; ``log_mel(split, **options)`` is :func:`load`.
    """

    title = "NSynth"

    @property
    def splits(self):
        """The splits the folder holds, in either format."""
        return tuple(_splits_present(self.root))

    def labels(self, split, limit=None):
        """The labels of a split's notes, read from examples.json or from the TFRecord's records."""
        found = detect_format(self.root, split)
        path = split_files(self.root, split)[found]
        return read_notes(path, limit) if found == "json" else _record_labels(path, limit)

    def log_mel(self, split, **options):
        """:func:`load` of a split."""
        return load(self.root, split, **options)

    def streaming_problem(self, error):
        """The record at fault, found by reading the splits that training reads (:func:`bad_record`)."""
        for split in PRETRAINING_SPLITS:
            if split in self.splits and detect_format(self.root, split) == "tfrecord":
                problem = bad_record(split_files(self.root, split)["tfrecord"])
                if problem is not None:
                    return problem
        return super().streaming_problem(error)

    def validate(self):
        """Each released split read whole (every note of examples.json, every record of a TFRecord, with a
        progress bar); train and valid are needed, test is not."""
        problems, notes = [], []
        for split in SPLITS:
            try:
                found = detect_format(self.root, split)
                path = split_files(self.root, split)[found]
                read_notes(path) if found == "json" else self._check_records(path, split)
            except DatasetError as error:
                if split in PRETRAINING_SPLITS:
                    problems.append(f"{split}: {error}")
                else:
                    notes.append(f"{split}: {error} (pre-training does not read it)")
        return Report(self.title, self.root, problems, notes)

    def _check_records(self, path, split):
        """Raise the DatasetError of the first bad record of a split's TFRecord, showing progress."""
        from tqdm import tqdm

        _check_first_record(path)
        total, _ = count_notes(self.root, split)
        with tqdm(total=total, desc=f"{split} records", unit="record", leave=False, disable=None) as bar:
            problem = bad_record(path, bar.update)
        if problem is not None:
            raise problem

    def summary(self):
        """Each split's notes counted, and its first note described."""
        lines = []
        for split in self.splits:
            notes = self.log_mel(split)
            count = sum(1 for _ in notes)
            log_mel, labels = next(iter(notes))
            qualities = [name for name, on in zip(QUALITIES, labels["qualities"].numpy()) if on]
            lines.append(f"  {split}: {count} notes; first {labels['note_str'].numpy().decode()}: log-mel "
                         f"{tuple(log_mel.shape)}, family {FAMILIES[int(labels['family'])]}, "
                         f"qualities {', '.join(qualities) or 'none'}")
        return lines
