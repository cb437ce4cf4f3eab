"""Freesound sounds with their tags, as tf.data of log-mel examples and multi-hot tags.

The layout, as the demo set writes it (a flat folder of audio files with the
tags file beside them is read too)::

    ROOT/
    ├── tags.csv                  sound_id,tags   (or tags.json: {"sound_id": ["tag", ...]})
    └── audio/
        └── <sound_id>.<ext>      any audio format airtf reads (ogg, wav, flac, mp3, ...)

In tags.csv the tags of a sound are separated by spaces or commas (a quoted
field, or the rest of the row). Tags are lower-cased and repeated tags of a
sound counted once. The targets are multi-hot over a :class:`Vocabulary` of
the K most frequent tags (K = 1000, as COALA). Sounds with no audio file, no
tags or no tag in the vocabulary are skipped and reported in a
:class:`SkipReport`, with a :class:`SkippedSoundsWarning`.
"""

import collections
import csv
import dataclasses
import re
import warnings
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from airtf.audio import AUDIO_SUFFIXES
from airtf.datasets import pipeline, sounds
from airtf.datasets.base import Dataset, Report
from airtf.datasets.pipeline import AUTOTUNE, DatasetError
from airtf.errors import AirtfWarning
from airtf.support.files import write_json

if TYPE_CHECKING:
    import tensorflow as tf

DEFAULT_VOCABULARY_SIZE = 1000
"""K, the number of tags in a vocabulary (COALA's choice)."""

TAGS_FILES = ("tags.csv", "tags.json")
"""Tags files looked for in the root folder, in this order."""

CSV_HEADER = ("sound_id", "tags")

SKIP_REASONS = ("no audio", "no tags", "no tag in vocabulary")

_TAG_SEPARATORS = re.compile(r"[\s,]+")


class SkippedSoundsWarning(AirtfWarning):
    """Some sounds were left out of a Freesound dataset; see its SkipReport."""


def split_tags(text):
    """Tags in a string separated by spaces or commas, lower-cased, each once, in order."""
    return _unique_tags(_TAG_SEPARATORS.split(text))


def _unique_tags(tags):
    return tuple(dict.fromkeys(tag.strip().lower() for tag in tags if tag.strip()))


def _csv_problem(path, line, problem):
    return DatasetError(f"{path}, line {line}: {problem}; write it as 'sound_id,tags' rows under that header")


def _read_tags_csv(path):
    try:
        with open(path, newline="", encoding="utf-8-sig") as stream:
            rows = list(csv.reader(stream))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DatasetError(f"{path}: cannot read as CSV ({error}); write it as UTF-8 'sound_id,tags' rows") from None
    header = tuple(field.strip().lower() for field in rows[0]) if rows else ()
    if header != CSV_HEADER:
        raise _csv_problem(path, 1, f"the header is {','.join(header)!r}, expected 'sound_id,tags'")
    tags, lines = {}, {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(field.strip() for field in row):
            continue
        sound_id = row[0].strip()
        if not sound_id:
            raise _csv_problem(path, line, "the sound_id is empty")
        if sound_id in tags:
            raise _csv_problem(path, line, f"sound {sound_id} is listed again (first on line {lines[sound_id]})")
        tags[sound_id], lines[sound_id] = split_tags(",".join(row[1:])), line
    return tags


def _read_tags_json(path):
    fix = 'write it as {"sound_id": ["tag", ...], ...}'
    data = pipeline.read_json(path, fix)
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: holds a JSON {type(data).__name__}, not an object; {fix}")
    for sound_id, tags in data.items():
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise DatasetError(f"{path}: the tags of sound {sound_id} are {tags!r}, not a list of strings; {fix}")
    return {sound_id.strip(): _unique_tags(tags) for sound_id, tags in data.items()}


def read_tags(path):
    """Read a tags file: CSV ``sound_id,tags`` or JSON ``{sound_id: [tags]}``, by its suffix.

    Parameters
    ----------
    path : str or os.PathLike
        A .csv or .json file.

    Returns
    -------
    dict
        sound_id (str) to its tags (tuple of str, possibly empty), in file order.

    Raises
    ------
    DatasetError
        The file is unreadable, has a bad header, is not JSON, has values of
        the wrong type, or lists a sound twice.
    """
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return _read_tags_csv(path)
    if path.suffix.lower() == ".json":
        return _read_tags_json(path)
    raise DatasetError(f"{path}: unknown tags file type; use a .csv ('sound_id,tags') or .json ({{id: [tags]}})")


def find_tags_file(root):
    """The tags file of ``root``: the first of :data:`TAGS_FILES` there.

    Raises
    ------
    DatasetError
        None of them is there.
    """
    for name in TAGS_FILES:
        if (Path(root) / name).is_file():
            return Path(root) / name
    raise DatasetError(
        f"{root}: no tags file; put the tags in {root}/tags.csv ('sound_id,tags') or "
        f"{root}/tags.json ({{id: [tags]}}), or pass tags_file"
    )


def find_audio(root):
    """Audio files by sound id: ``ROOT/audio/<sound_id>.<ext>``, or ``ROOT/<sound_id>.<ext>`` without audio/.

    Returns
    -------
    dict
        sound_id (the file's stem) to its Path.

    Raises
    ------
    DatasetError
        The folder does not exist, or two files have the same sound id.
    """
    folder = Path(root) / "audio"
    folder = folder if folder.is_dir() else Path(root)
    if not folder.is_dir():
        raise DatasetError(f"{root}: folder not found; pass the folder holding audio/<sound_id>.<ext>")
    files = sorted(path for path in folder.iterdir() if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file())
    found = {}
    for path in files:
        if path.stem in found:
            raise DatasetError(f"{path}: sound {path.stem} also has {found[path.stem].name}; keep one of the two")
        found[path.stem] = path
    return found


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """The tags that targets are made of, in target order.

    Build it from the training sounds with :meth:`from_tags`, save it with
    :meth:`save` and load it for evaluation with :meth:`load`, so that both
    use the same targets.
    """

    tags: tuple

    def __post_init__(self):
        object.__setattr__(self, "tags", tuple(self.tags))
        if len(set(self.tags)) != len(self.tags):
            raise ValueError("a vocabulary lists each tag once")

    def __len__(self):
        return len(self.tags)

    @classmethod
    def from_tags(cls, tag_lists, size=DEFAULT_VOCABULARY_SIZE):
        """The ``size`` tags on most sounds; ties go to the alphabetically first.

        Parameters
        ----------
        tag_lists : iterable of iterable of str
            The tags of each sound (each tag counted once per sound).
        size : int
            K, the number of tags kept (fewer if fewer exist).
        """
        if size < 1:
            raise ValueError(f"a vocabulary needs at least one tag, got size={size}")
        counts = collections.Counter(tag for tags in tag_lists for tag in set(tags))
        ranked = sorted(counts, key=lambda tag: (-counts[tag], tag))
        return cls(ranked[:size])

    def indices(self, tags):
        """Positions of the known ``tags`` in the vocabulary (unknown ones are left out)."""
        return [self._positions[tag] for tag in tags if tag in self._positions]

    def multi_hot(self, tags):
        """The target of a sound: float32 (K,), 1 where it has the tag."""
        target = np.zeros(len(self), np.float32)
        target[self.indices(tags)] = 1.0
        return target

    @cached_property
    def _positions(self):
        return {tag: index for index, tag in enumerate(self.tags)}

    def save(self, path):
        """Write the vocabulary as JSON ``{"tags": [...]}``, atomically."""
        write_json(path, {"tags": list(self.tags)})

    @classmethod
    def load(cls, path):
        """Read a vocabulary written by :meth:`save`.

        Raises
        ------
        DatasetError
            The file is missing, not JSON or not ``{"tags": [unique strings]}``.
        """
        fix = 'save it with Vocabulary.save, or write it as {"tags": ["tag", ...]}'
        data = pipeline.read_json(path, fix)
        tags = data.get("tags") if isinstance(data, dict) else None
        if not isinstance(tags, list) or not tags or not all(isinstance(tag, str) for tag in tags):
            raise DatasetError(f"{path}: not a vocabulary (a non-empty list of strings under 'tags'); {fix}")
        if len(set(tags)) != len(tags):
            raise DatasetError(f"{path}: a tag is listed twice in the vocabulary; {fix}")
        return cls(tags)


@dataclasses.dataclass(frozen=True)
class SkipReport:
    """How many sounds a dataset uses and why the others were skipped.

    Attributes
    ----------
    total : int
        Sounds seen: those in the tags file and those with only an audio file.
    used : int
        Sounds in the dataset.
    skipped : dict
        Reason (one of :data:`SKIP_REASONS`) to the number of sounds skipped.
    examples : dict
        Reason to a few of the sound ids skipped for it.
    """

    total: int
    used: int
    skipped: dict
    examples: dict

    def __str__(self):
        if not any(self.skipped.values()):
            return f"all {self.total} sounds used"
        reasons = "; ".join(
            f"{count} with {reason} (e.g. {', '.join(self.examples[reason])})"
            for reason, count in self.skipped.items() if count
        )
        return f"skipped {self.total - self.used} of {self.total} sounds: {reasons}"


def _skip_reason(sound_id, tags, audio, vocabulary):
    """Why a sound cannot be used, or None."""
    if sound_id not in audio:
        return "no audio"
    if not tags.get(sound_id):
        return "no tags"
    if not vocabulary.indices(tags[sound_id]):
        return "no tag in vocabulary"
    return None


def _sort_sounds(tags, audio, vocabulary, examples_shown=5):
    """The usable sound ids (tags-file order, then audio-only ones) and a SkipReport."""
    usable, skipped = [], {reason: [] for reason in SKIP_REASONS}
    sound_ids = list(tags) + [sound_id for sound_id in audio if sound_id not in tags]
    for sound_id in sound_ids:
        reason = _skip_reason(sound_id, tags, audio, vocabulary)
        (usable if reason is None else skipped[reason]).append(sound_id)
    report = SkipReport(
        total=len(sound_ids),
        used=len(usable),
        skipped={reason: len(ids) for reason, ids in skipped.items()},
        examples={reason: tuple(ids[:examples_shown]) for reason, ids in skipped.items()},
    )
    return usable, report


def _targets_dataset(tag_indices, size):
    """Multi-hot float32 (size,) targets from each sound's tag positions."""
    import tensorflow as tf

    lengths = np.asarray([len(indices) for indices in tag_indices], np.int64)
    flat = np.asarray([index for indices in tag_indices for index in indices], np.int64)
    ragged = tf.RaggedTensor.from_row_lengths(flat, lengths)

    def multi_hot(indices):
        return tf.scatter_nd(indices[:, tf.newaxis], tf.ones_like(indices, tf.float32), [size])

    return tf.data.Dataset.from_tensor_slices(ragged).map(multi_hot, num_parallel_calls=AUTOTUNE)


class FreesoundData(NamedTuple):
    """What :func:`load` returns: the dataset, its vocabulary and its skip report."""

    dataset: "tf.data.Dataset"
    vocabulary: Vocabulary
    report: SkipReport


def _vocabulary(vocabulary, usable_tag_lists, size):
    if vocabulary is None:
        return Vocabulary.from_tags(usable_tag_lists, size)
    return vocabulary if isinstance(vocabulary, Vocabulary) else Vocabulary.load(vocabulary)


def load(root, *, tags_file=None, vocabulary=None, vocabulary_size=DEFAULT_VOCABULARY_SIZE, examples="first",
         limit=None, resampler="resampy", cache_dir=None, num_parallel_calls=AUTOTUNE):
    """Freesound sounds as a tf.data.Dataset of log-mel examples and multi-hot tags.

    Parameters
    ----------
    root : str or os.PathLike
        The folder holding ``audio/`` (or the audio files themselves).
    tags_file : str or os.PathLike or None
        The tags (.csv or .json); default: ``ROOT/tags.csv`` or ``ROOT/tags.json``.
    vocabulary : Vocabulary, str, os.PathLike or None
        The vocabulary, or a JSON file written by :meth:`Vocabulary.save`
        (use the training set's for evaluation); None builds one from the
        sounds that have audio and tags.
    vocabulary_size : int
        K, when the vocabulary is built (default 1000).
    examples : {"first", "all"} or sequence of int
        Which 0.96 s examples of each sound to use (default "first"; see
        :mod:`airtf.datasets.sounds`). A sound shorter than one example is
        zero-padded to one.
    limit : int or None
        Use only the first ``limit`` usable sounds.
    resampler : {"resampy", "soxr"}
        See :func:`airtf.audio.resample`.
    cache_dir : str or os.PathLike or None
        Keep each file's log-mel examples there (see
        :func:`airtf.datasets.pipeline.log_mel_dataset`).
    num_parallel_calls : int
        Files decoded at once (default AUTOTUNE).

    Returns
    -------
    FreesoundData
        ``dataset`` of ``(example float32 (96, 64), targets float32 (K,))``,
        one element per chosen example, in tags-file order; the
        ``vocabulary``; the ``report`` of skipped sounds.

    Warns
    -----
    SkippedSoundsWarning
        When sounds are skipped (the message is the report).

    Raises
    ------
    DatasetError
        No tags file, a malformed tags or vocabulary file, two audio files
        for one sound, or no usable sound at all.
    """
    import tensorflow as tf

    from airtf.vggish.audio_converter import LogMelExamples

    indices = sounds.example_indices(examples)
    tags_file = find_tags_file(root) if tags_file is None else Path(tags_file)
    tags, audio = read_tags(tags_file), find_audio(root)
    with_audio_and_tags = [tags[sound_id] for sound_id in tags if sound_id in audio and tags[sound_id]]
    vocabulary = _vocabulary(vocabulary, with_audio_and_tags, vocabulary_size)
    usable, report = _sort_sounds(tags, audio, vocabulary)
    if not usable:
        raise DatasetError(
            f"{tags_file}: no sound has both an audio file under {root} and a tag in the vocabulary "
            f"({report}); check that the sound ids match the audio file names"
        )
    if report.used < report.total:
        warnings.warn(f"{tags_file}: {report}", SkippedSoundsWarning, stacklevel=2)
    usable = usable[:limit]
    examples_of_sounds = pipeline.log_mel_dataset(
        [audio[sound_id] for sound_id in usable],
        frontend=LogMelExamples(pad=True),
        resampler=resampler,
        cache_dir=cache_dir,
        num_parallel_calls=num_parallel_calls,
    )
    targets = _targets_dataset([vocabulary.indices(tags[sound_id]) for sound_id in usable], len(vocabulary))
    per_sound = tf.data.Dataset.zip((examples_of_sounds, targets))
    return FreesoundData(sounds.one_example_per_element(per_sound, indices), vocabulary, report)


class Freesound(Dataset):
    """Freesound sounds and their tags (see the module docstring).

    The release has no splits: its one split is ``"all"`` (the align
    objective draws its own training and validation sounds).
    ``labels()`` are the tags by sound id; ``log_mel(**options)`` is
    :func:`load`'s dataset.
    """

    title = "Freesound tags"

    @property
    def splits(self):
        """("all",)."""
        return ("all",)

    def _check_split(self, split):
        if split != "all":
            raise DatasetError(f"{self.root}: Freesound tags have one split, 'all', not {split!r}")

    def labels(self, split="all"):
        """Sound id -> tags, from the tags file."""
        self._check_split(split)
        return read_tags(find_tags_file(self.root))

    def log_mel(self, split="all", **options):
        """:func:`load`'s dataset: (example (96, 64), multi-hot tags (K,))."""
        self._check_split(split)
        return load(self.root, **options).dataset

    def _load_quietly(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkippedSoundsWarning)
            return load(self.root)

    def validate(self):
        """The tags file and audio read, and which sounds are used (see :class:`SkipReport`)."""
        try:
            data = self._load_quietly()
        except DatasetError as error:
            return Report(self.title, self.root, [str(error)])
        return Report(self.title, self.root, notes=[str(data.report)])

    def summary(self):
        """The vocabulary's size and the first sound's log-mel and tags."""
        data = self._load_quietly()
        log_mel, targets = next(iter(data.dataset))
        return [f"  vocabulary of {len(data.vocabulary)} tags; first sound: log-mel {tuple(log_mel.shape)}, "
                f"{int(np.sum(targets))} tags"]
