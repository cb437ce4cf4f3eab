"""OpenMIC-2018 read in its released layout: labels, partitions, splits, tf.data views.

Layout of the release (``root``)::

    root/
    ├── class-map.json                      instrument name -> class index (20)
    ├── openmic-2018.npz                    X (N, 10, 128) uint8, Y_true (N, 20) float,
    │                                       Y_mask (N, 20) bool, sample_key (N,) str
    ├── openmic-2018-aggregated-labels.csv  sample_key,instrument,relevance,num_responses
    ├── partitions/
    │   ├── split01_train.csv               one sample key per line, no header
    │   └── split01_test.csv
    ├── audio/<first 3 characters>/<sample_key>.ogg
    └── vggish/<first 3 characters>/<sample_key>.json
                                            {"time_points": [10], "features": 10 x 128}

Only ``class-map.json`` is required up front; each other part is read when
something needs it. Labels come from the npz, or, without it, from the
aggregated-labels CSV (relevance as Y_true, listed entries annotated, 0.5
elsewhere). An entry is positive where ``Y_true >= 0.5`` and annotated;
losses and metrics use annotated entries only.

API
---
``OpenMIC(root)``, a :class:`airtf.datasets.base.Dataset`
    ``classes``, ``partitions``, ``splits`` (the partitions present),
    ``labels(split=None)``, ``positives``, ``released_features(split=None)``
    (uint8; / 255 is the paper's "pca"), ``audio_path(key)``,
    ``vggish_path(key)``, ``rows(keys)``, ``draw_split(...)``,
    ``validate()``; tf.data views ``released_dataset(split)``,
    ``log_mel(split)`` and ``features(split, model)``, whose elements are
    ``(x, y_true, y_mask)``, the mask being for a loss over annotated entries
    only. A ``split`` is a partition name or a list of sample keys.
``read_keys(path)``, ``draw_split(...)``, ``check_key(key, where)``
    Key lists, the train / validation / test split, and the key format.
"""

import csv
import dataclasses
import json
import os
import re
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from airtf import params
from airtf.datasets import npz, pipeline
from airtf.datasets.base import Dataset, Report
from airtf.datasets.pipeline import DatasetError
from airtf.support.files import write_json

CLASS_MAP = "class-map.json"
RELEASE_NPZ = "openmic-2018.npz"
AGGREGATED_LABELS = "openmic-2018-aggregated-labels.csv"
PARTITION_FILES = {"train": "partitions/split01_train.csv", "test": "partitions/split01_test.csv"}
LABEL_COLUMNS = ("sample_key", "instrument", "relevance")
NPZ_LABEL_ARRAYS = ("Y_true", "Y_mask", "sample_key")

CLIP_SECONDS = 10.0
EXAMPLES_PER_CLIP = 10
"""Clips last 10 s: 10 VGGish examples of 0.96 s."""
UNKNOWN = 0.5
"""Y_true of an entry nobody annotated."""
FEATURE_MAX = 255.0
"""Largest value of the released, quantised features."""

SAMPLE_KEY = re.compile(r"[0-9]+_[0-9]+")
"""An OpenMIC-2018 sample key: FMA track id, underscore, start in milliseconds (e.g. 000046_3840)."""

CORRUPTED_RECORDINGS = ("071826", "071827", "087435", "095253", "095259",
                        "095263", "102144", "113025", "113604", "138485")
"""FMA track ids (a sample key's first part) whose audio was corrupted when the release was made
(the errata of cosmir/openmic-2018's README, after FMA's issue 27)."""
CORRECTED_LABELS = {("095253_134400", "piano"): True, ("095263_96000", "mallet_percussion"): True,
                    ("113025_99840", "trumpet"): True}
"""(sample key, instrument) -> presence, the three annotations corrected after the release (same errata)."""
SPLIT_NAME = "split.json"
"""The file a run directory keeps its drawn split in (:func:`write_split`)."""
SPLIT_SEED = 2018
VALIDATION_FRACTION = 0.15


class Labels(NamedTuple):
    """Labels of the clips, row by row.

    Attributes
    ----------
    sample_key : np.ndarray
        str, shape (N,).
    y_true : np.ndarray
        float32, shape (N, classes): relevance in [0, 1], 0.5 where unknown.
    y_mask : np.ndarray
        bool, shape (N, classes): True where annotated.
    """

    sample_key: np.ndarray
    y_true: np.ndarray
    y_mask: np.ndarray


@dataclasses.dataclass(frozen=True)
class Split:
    """Sample keys of the train, validation and test sets, and how they were drawn."""

    train: tuple
    validation: tuple
    test: tuple
    drawn_with: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class ValidationReport(Report):
    """What :meth:`OpenMIC.validate` found.

    A folder serves a use when every partition key has what the use reads:
    the released features (``pca``), or the audio (every feature set
    computed from it, and ``airtf-extract``). Clips without audio are no
    problem for a folder used with the released features alone, nor clips
    without released features for one used with its audio. ``ok`` when
    nothing required is missing or inconsistent and at least one use is
    served.
    """

    title = "OpenMIC-2018"

    root: Path
    missing_files: list = dataclasses.field(default_factory=list)
    errors: list = dataclasses.field(default_factory=list)
    keys_without_audio: list = dataclasses.field(default_factory=list)
    keys_without_features: list = dataclasses.field(default_factory=list)
    unlabelled_partition_keys: dict = dataclasses.field(default_factory=dict)
    keys_in_both_partitions: list = dataclasses.field(default_factory=list)

    @property
    def problems(self):
        """One line per thing that stops every use."""
        counted = {"keys in both partitions": self.keys_in_both_partitions,
                   **{f"{name} keys without labels": keys for name, keys in self.unlabelled_partition_keys.items()}}
        lines = [f"missing: {path}" for path in self.missing_files]
        lines += [f"error: {message}" for message in self.errors]
        lines += [f"{what}: {len(keys)} (e.g. {keys[0]})" for what, keys in counted.items() if keys]
        if not (lines or any(self.uses.values())):
            lines.append("neither the released features nor the audio of every clip is there; "
                         "restore vggish/ (or X in the npz) or audio/ from the release")
        return lines

    @property
    def uses(self):
        """Use -> whether the folder serves it: "released features" (pca), "audio" (the rest)."""
        return {"released features": not self.keys_without_features, "audio": not self.keys_without_audio}

    @property
    def notes(self):
        """Which uses the folder serves (nothing while files are missing or unreadable)."""
        if self.errors or self.missing_files:  # what is there is unknown until these are fixed
            return []
        served = {"released features": "airtf-eval --features pca", "audio": "airtf-eval --features norm, "
                  "random, logmel or a pre-training run; airtf-extract"}
        lacking = {"released features": self.keys_without_features, "audio": self.keys_without_audio}
        return [f"{use}: every clip ({served[use]})" if serves else
                f"{use}: {len(lacking[use])} clips without (e.g. {lacking[use][0]}), so not for {served[use]}"
                for use, serves in self.uses.items()]


def check_key(key, where):
    """Return ``key`` if it is an OpenMIC-2018 sample key, else raise DatasetError naming ``where``.

    Keys become file paths (``audio/<key[:3]>/<key>.ogg``), so anything else
    (``../x``, an absolute path) is refused before it is used.
    """
    if not isinstance(key, str) or not SAMPLE_KEY.fullmatch(key):
        shown = repr(str(key)) if isinstance(key, str) else repr(key)  # NumPy 2 shows np.str_('...')
        raise DatasetError(f"{where}: {shown} is not an OpenMIC-2018 sample key (digits, an underscore, digits, "
                           "e.g. 000046_3840); fix or remove it")
    return key


def _first_missing(keys, what, fix):
    """A DatasetError for keys that lack something, naming the first and the fix."""
    return DatasetError(f"{keys[0]}: {what} ({len(keys)} in all); {fix}")


def read_keys(path):
    """Read a key list: one sample key per line, no header, blank lines ignored.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    list of str
        The keys, in file order.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(
            f"{path}: cannot read the key list ({error}); pass a text file of one sample key per line") from None
    keys = [check_key(line.strip(), f"{path}, line {number}")
            for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not keys:
        raise DatasetError(f"{path}: the key list is empty; pass a text file of one sample key per line")
    return keys


def read_class_map(path):
    """Read ``class-map.json``: the class names ordered by index.

    Raises
    ------
    DatasetError
        Not a JSON object of name -> index, or the indices are not 0..K-1.
    """
    mapping = pipeline.read_json(path, "restore the release's class-map.json")
    valid = isinstance(mapping, dict) and all(type(index) is int for index in mapping.values())
    if not valid or sorted(mapping.values()) != list(range(len(mapping))) or not mapping:
        raise DatasetError(f"{path}: expected a JSON object of instrument name -> index 0..K-1, each index once; "
                           "restore the release's class-map.json")
    return sorted(mapping, key=mapping.get)


def read_vggish_json(path):
    """Read one clip's released VGGish features (``{"time_points", "features"}``).

    Returns
    -------
    np.ndarray
        uint8, shape (10, 128).
    """
    if not Path(path).is_file():
        raise DatasetError(f"{path}: features file not found; run airtf-extract on the audio or leave the clip out")
    released = pipeline.read_json(path, "re-extract it (airtf-extract --output pca)")
    try:
        features = np.asarray(released["features"])
    except (ValueError, KeyError, TypeError) as error:
        raise DatasetError(f"{path}: not a VGGish features file ({type(error).__name__}: {error}); "
                           "expected JSON with 'features' (10 x 128 integers 0..255) — re-extract it") from None
    shape = (EXAMPLES_PER_CLIP, params.EMBEDDING_SIZE)
    if features.shape != shape or not _is_byte_valued(features):
        raise DatasetError(f"{path}: 'features' is {features.dtype} {list(features.shape)}, expected {list(shape)} "
                           "integers 0..255; re-extract it with airtf-extract")
    return features.astype(np.uint8)


def _is_byte_valued(array):
    """Whether an array holds integers 0..255 (integer or boolean dtype)."""
    if array.dtype.kind not in "biu":
        return False
    return array.size == 0 or (array.min() >= 0 and array.max() <= FEATURE_MAX)


def _relevance(text, path, line):
    try:
        relevance = float(text)
    except (TypeError, ValueError):
        relevance = float("nan")
    if not 0.0 <= relevance <= 1.0:
        raise DatasetError(f"{path}, line {line}: relevance {text!r} is not a number in [0, 1]; fix or remove the row")
    return relevance


def read_aggregated_labels(path, classes):
    """Build labels from the aggregated-labels CSV.

    Parameters
    ----------
    path : str or os.PathLike
        ``openmic-2018-aggregated-labels.csv`` (columns sample_key,
        instrument, relevance, num_responses; the last is not used).
    classes : list of str
        Class names by index.

    Returns
    -------
    Labels
        One row per sample key (sorted); Y_true is the relevance where a row
        lists the (key, instrument) and 0.5 elsewhere; Y_mask marks the listed.
    """
    index = {name: position for position, name in enumerate(classes)}
    relevances = {}
    with open(path, newline="") as stream:
        reader = csv.DictReader(stream)
        absent = [column for column in LABEL_COLUMNS if column not in (reader.fieldnames or [])]
        if absent:
            raise DatasetError(f"{path}: column(s) {', '.join(absent)} missing (header: {reader.fieldnames}); "
                               "the file needs the header sample_key,instrument,relevance,num_responses")
        for line, row in enumerate(reader, start=2):
            if any(row[column] is None for column in LABEL_COLUMNS):
                raise DatasetError(f"{path}, line {line}: too few fields; fix or remove the row")
            key, instrument = row["sample_key"].strip(), row["instrument"].strip()
            if key:
                check_key(key, f"{path}, line {line}")
            if instrument not in index:
                raise DatasetError(f"{path}, line {line}: unknown instrument {instrument!r}; "
                                   f"use the names in {CLASS_MAP}: {', '.join(classes)}")
            if not key or (key, instrument) in relevances:
                raise DatasetError(f"{path}, line {line}: {'empty' if not key else 'repeated'} sample key "
                                   f"{key!r} for {instrument}; fix or remove the row")
            relevances[key, instrument] = _relevance(row["relevance"], path, line)
    keys = sorted({key for key, _ in relevances})
    row_of = {key: row for row, key in enumerate(keys)}
    y_true = np.full((len(keys), len(classes)), UNKNOWN, np.float32)
    y_mask = np.zeros((len(keys), len(classes)), bool)
    for (key, instrument), relevance in relevances.items():
        y_true[row_of[key], index[instrument]] = relevance
        y_mask[row_of[key], index[instrument]] = True
    return Labels(np.array(keys, dtype=str), y_true, y_mask)


def _check_release_arrays(path, arrays, num_classes):
    """Raise DatasetError unless the arrays have the release's shapes and values."""
    count = len(arrays["sample_key"])
    expected = {"sample_key": (count,), "Y_true": (count, num_classes), "Y_mask": (count, num_classes),
                "X": (count, EXAMPLES_PER_CLIP, params.EMBEDDING_SIZE)}
    for name, array in arrays.items():
        if array.shape != expected[name]:
            raise DatasetError(
                f"{path}: {name} has shape {list(array.shape)}, expected {list(expected[name])} "
                f"({count} sample keys, {num_classes} classes in {CLASS_MAP}); download the release's npz again")
    y_true, y_mask = arrays["Y_true"], arrays["Y_mask"]
    if y_true.dtype.kind not in "biuf" or not np.all((y_true >= 0) & (y_true <= 1)):
        raise DatasetError(f"{path}: Y_true must hold numbers in [0, 1]; download the release's npz again")
    if y_mask.dtype.kind not in "biu" or not np.all((y_mask == 0) | (y_mask == 1)):
        raise DatasetError(f"{path}: Y_mask must be boolean; download the release's npz again")
    if "X" in arrays and not _is_byte_valued(arrays["X"]):
        raise DatasetError(f"{path}: X must hold integers 0..255 (uint8); download the release's npz again")
    for row, key in enumerate(arrays["sample_key"]):
        check_key(key, f"{path}, sample_key[{row}]")
    if len(set(arrays["sample_key"])) != count:
        raise DatasetError(f"{path}: sample_key has repeated keys; download the release's npz again")


def read_release_npz(path, num_classes):
    """Read and check ``openmic-2018.npz``.

    Parameters
    ----------
    path : str or os.PathLike
    num_classes : int
        Classes in the class map (20).

    Returns
    -------
    dict
        ``sample_key`` (N,) str, ``Y_true`` (N, C) float32, ``Y_mask`` (N, C)
        bool and, when the file has it, ``X`` (N, 10, 128) uint8.
    """
    stored = npz.read_arrays(path, "download the release's npz again")
    absent = [name for name in NPZ_LABEL_ARRAYS if name not in stored]
    if absent:
        raise DatasetError(f"{path}: array(s) {', '.join(absent)} missing (found {', '.join(sorted(stored))}); "
                           "OpenMIC-2018's npz holds X, Y_true, Y_mask and sample_key")
    arrays = {name: stored[name] for name in (*NPZ_LABEL_ARRAYS, "X") if name in stored}
    for name in ("Y_true", "Y_mask", "X"):
        if name in arrays and arrays[name].dtype == object:
            raise DatasetError(f"{path}: array {name!r} is not numeric; download the release's npz again")
    arrays["sample_key"] = np.array([key.decode() if isinstance(key, bytes) else str(key)
                                     for key in arrays["sample_key"].ravel()], dtype=str).reshape(
                                         arrays["sample_key"].shape)
    _check_release_arrays(path, arrays, num_classes)
    arrays["Y_true"] = arrays["Y_true"].astype(np.float32)
    arrays["Y_mask"] = arrays["Y_mask"].astype(bool)
    if "X" in arrays:
        arrays["X"] = arrays["X"].astype(np.uint8)
    return arrays


def draw_split(train_keys, test_keys, *, seed=SPLIT_SEED, validation_fraction=VALIDATION_FRACTION,
               validation_keys=None):
    """Split the train partition into train and validation.

    Parameters
    ----------
    train_keys, test_keys : sequence of str
        The partitions.
    seed : int
        Seed of the draw (``numpy.random.default_rng``).
    validation_fraction : float
        Share of the train partition drawn for validation (0.15), rounded to
        a whole number of clips.
    validation_keys : str, os.PathLike, sequence of str or None
        Validation keys given by the user, or a key-list file of them
        (:func:`read_keys`); they must belong to the train partition. When
        given, nothing is drawn.

    Returns
    -------
    Split
        Each list in partition order.
    """
    train_keys = list(train_keys)
    if validation_keys is None:
        if not 0.0 <= validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
        count = int(round(validation_fraction * len(train_keys)))
        drawn = np.random.default_rng(seed).choice(len(train_keys), size=count, replace=False)
        chosen = {train_keys[position] for position in drawn}
        drawn_with = {"seed": seed, "validation_fraction": validation_fraction}
    else:
        if isinstance(validation_keys, (str, os.PathLike)):
            source, validation_keys = os.fspath(validation_keys), read_keys(validation_keys)
        else:
            source = "the given validation keys"
        chosen = set(validation_keys)
        strangers = sorted(chosen - set(train_keys))
        if strangers:
            raise DatasetError(f"{source}: {len(strangers)} validation keys are not in the train partition "
                               f"(e.g. {strangers[0]}); take validation keys from the train partition")
        drawn_with = {"validation_keys": source}
    return Split(train=tuple(key for key in train_keys if key not in chosen),
                 validation=tuple(key for key in train_keys if key in chosen),
                 test=tuple(test_keys), drawn_with=drawn_with)


class OpenMIC(Dataset):
    """OpenMIC-2018 in its released layout.

    Parameters
    ----------
    root : str or os.PathLike
        The release's folder, holding ``class-map.json``.

    Raises
    ------
    DatasetError
        ``root`` is not a folder, or has no ``class-map.json``.
    """

    title = "OpenMIC-2018"

    def __init__(self, root):
        super().__init__(root)
        if not (self.root / CLASS_MAP).is_file():
            raise DatasetError(f"{self.root / CLASS_MAP}: class map not found; pass the OpenMIC-2018 folder "
                               f"(holding {CLASS_MAP}, partitions/ and audio/) or restore the file")

    def audio_path(self, key):
        """``root/audio/<key[:3]>/<key>.ogg``."""
        return self.root / "audio" / key[:3] / f"{key}.ogg"

    def vggish_path(self, key):
        """``root/vggish/<key[:3]>/<key>.json``."""
        return self.root / "vggish" / key[:3] / f"{key}.json"

    @cached_property
    def classes(self):
        """Class names by index, from ``class-map.json`` (list of str)."""
        return read_class_map(self.root / CLASS_MAP)

    @cached_property
    def partitions(self):
        """``{"train": keys, "test": keys}`` from ``partitions/split01_*.csv``."""
        return {name: read_keys(self.root / relative) for name, relative in PARTITION_FILES.items()}

    @cached_property
    def _release(self):
        """The checked arrays of ``openmic-2018.npz``, or None without the file."""
        path = self.root / RELEASE_NPZ
        return read_release_npz(path, len(self.classes)) if path.is_file() else None

    @property
    def splits(self):
        """The partitions present: ("train", "test")."""
        return tuple(name for name, relative in PARTITION_FILES.items() if (self.root / relative).is_file())

    def _keys(self, split):
        """The keys of a partition name, or ``split`` itself when it is a sequence of keys."""
        return self.partitions[split] if isinstance(split, str) else list(split)

    @cached_property
    def _labels(self):
        if self._release is not None:
            return Labels(self._release["sample_key"], self._release["Y_true"], self._release["Y_mask"])
        csv_path = self.root / AGGREGATED_LABELS
        if not csv_path.is_file():
            raise DatasetError(f"{self.root}: neither {RELEASE_NPZ} nor {AGGREGATED_LABELS} is there; "
                               "the labels come from one of them — copy them from the release")
        return read_aggregated_labels(csv_path, self.classes)

    def labels(self, split=None):
        """:class:`Labels` from the npz, else from the aggregated-labels CSV.

        Parameters
        ----------
        split : str, sequence of str or None
            A partition ("train", "test"), sample keys, or None for every
            labelled clip (in the labels' own order).
        """
        if split is None:
            return self._labels
        keys = self._keys(split)
        rows = self.rows(keys)
        return Labels(np.asarray(keys, dtype=str), self._labels.y_true[rows], self._labels.y_mask[rows])

    @property
    def positives(self):
        """bool (N, classes): ``Y_true >= 0.5`` where annotated, rows as :meth:`labels`."""
        return (self._labels.y_true >= UNKNOWN) & self._labels.y_mask

    @cached_property
    def _row_of(self):
        return {key: row for row, key in enumerate(self._labels.sample_key)}

    def rows(self, keys):
        """Rows of :meth:`labels` holding ``keys`` (int array); DatasetError for unlabelled keys."""
        unlabelled = [key for key in keys if key not in self._row_of]
        if unlabelled:
            source = RELEASE_NPZ if self._release is not None else AGGREGATED_LABELS
            raise _first_missing(unlabelled, f"no labels in {self.root / source}",
                                 "pass keys of labelled clips (validate() lists the unlabelled ones)")
        return np.array([self._row_of[key] for key in keys], dtype=np.int64)

    def released_features(self, split=None):
        """The released features: uint8 (clips, 10, 128).

        From the npz's X when it has one, else from the per-clip JSON files.

        Parameters
        ----------
        split : str, sequence of str or None
            As :meth:`labels`.
        """
        keys = list(self._labels.sample_key) if split is None else self._keys(split)
        if self._release is not None and "X" in self._release:
            return self._release["X"][self.rows(keys)]
        paths = [self.vggish_path(key) for key in keys]
        absent = pipeline.missing_files(paths)
        if absent:
            raise _first_missing(absent, "features file not found",
                                 "run airtf-extract on the audio, or pass keys whose features exist")
        shape = (0, EXAMPLES_PER_CLIP, params.EMBEDDING_SIZE)
        features = [read_vggish_json(path) for path in tqdm(paths, desc="VGGish JSON", unit="clip", disable=None)]
        return np.stack(features) if features else np.zeros(shape, np.uint8)

    def draw_split(self, seed=SPLIT_SEED, validation_fraction=VALIDATION_FRACTION, validation_keys=None):
        """Train, validation and test keys from the partitions (see :func:`draw_split`)."""
        return draw_split(self.partitions["train"], self.partitions["test"], seed=seed,
                          validation_fraction=validation_fraction, validation_keys=validation_keys)

    def _label_dataset(self, keys):
        import tensorflow as tf

        labels = self.labels(keys)
        return tf.data.Dataset.from_tensor_slices((labels.y_true, labels.y_mask))

    def released_dataset(self, split):
        """The released features as tf.data.

        Parameters
        ----------
        split : str or sequence of str
            A partition, or sample keys.

        Returns
        -------
        tf.data.Dataset
            Elements ``(features, y_true, y_mask)``: float32 (10, 128) in
            [0, 1] (X / 255), float32 (classes,), bool (classes,).
        """
        import tensorflow as tf

        keys = self._keys(split)
        features = tf.data.Dataset.from_tensor_slices(self.released_features(keys))
        dataset = tf.data.Dataset.zip(features, self._label_dataset(keys))
        return dataset.map(lambda x, labels: (tf.cast(x, tf.float32) / FEATURE_MAX, *labels))

    def log_mel(self, split, *, resampler="resampy", cache_dir=None, num_parallel_calls=pipeline.AUTOTUNE):
        """Log-mel examples of the clips' audio as tf.data.

        Parameters
        ----------
        split : str or sequence of str
            A partition, or sample keys.
        resampler : {"resampy", "soxr"}
            See :func:`airtf.audio.resample`.
        cache_dir : str or os.PathLike or None
            Cache of computed examples (see :func:`airtf.datasets.pipeline.log_mel_dataset`).
        num_parallel_calls : int
            Clips decoded at once.

        Returns
        -------
        tf.data.Dataset
            Elements ``(examples, y_true, y_mask)``: float32 (10, 96, 64),
            trimmed or padded with the examples of silence to 10, then the labels.

        Raises
        ------
        DatasetError
            A key has no labels or no audio file.
        """
        import tensorflow as tf

        keys = self._keys(split)
        labels = self._label_dataset(keys)
        paths = [self.audio_path(key) for key in keys]
        absent = pipeline.missing_files(paths)
        if absent:
            raise _first_missing(absent, "audio file not found",
                                 "put the clips at audio/<first 3 characters>/<key>.ogg or leave those keys out "
                                 "(validate() lists them)")
        examples = pipeline.log_mel_dataset(paths, resampler=resampler, num_examples=EXAMPLES_PER_CLIP,
                                            cache_dir=cache_dir, num_parallel_calls=num_parallel_calls)
        return tf.data.Dataset.zip(examples, labels).map(lambda x, labels: (x, *labels))

    def _attempt(self, report, attribute):
        """An attribute's value, or None with its error recorded in ``report``."""
        try:
            return getattr(self, attribute)
        except DatasetError as error:
            report.errors.append(str(error))
            return None

    def _present_partitions(self, report):
        """The partitions whose files are there and readable; errors recorded in ``report``."""
        partitions = {}
        for name, relative in PARTITION_FILES.items():
            if (self.root / relative).is_file():
                try:
                    partitions[name] = read_keys(self.root / relative)
                except DatasetError as error:
                    report.errors.append(str(error))
        return partitions

    def validate(self):
        """Check which parts are present and whether they agree.

        Reads the class map, labels and partitions, and looks for every
        labelled or partitioned key's audio and features. Missing parts and
        inconsistencies are reported, not raised.

        Returns
        -------
        ValidationReport
        """
        report = ValidationReport(self.root)
        required = [self.root / name for name in PARTITION_FILES.values()]
        report.missing_files = [os.fspath(path) for path in required if not path.is_file()]
        if self._attempt(report, "classes") is None:
            return report
        labels = self._attempt(report, "_labels")
        partitions = self._present_partitions(report)
        labelled = set() if labels is None else set(labels.sample_key)
        keys = sorted(labelled.union(*partitions.values()))
        has_x = labels is not None and self._release is not None and "X" in self._release
        report.keys_without_audio = [key for key in keys if not self.audio_path(key).is_file()]
        report.keys_without_features = [key for key in keys
                                        if not (has_x and key in labelled) and not self.vggish_path(key).is_file()]
        if labels is not None:
            report.unlabelled_partition_keys = {name: [key for key in part if key not in labelled]
                                                for name, part in partitions.items()}
        if len(partitions) == len(PARTITION_FILES):
            report.keys_in_both_partitions = sorted(set(partitions["train"]) & set(partitions["test"]))
        return report

    def errata(self):
        """Lines on the release's known errata found in this copy: clips of corrupted recordings, and
        whether the three corrected annotations are corrected here."""
        keys = self._labels.sample_key
        corrupted = [key for key in keys if key.split("_")[0] in CORRUPTED_RECORDINGS]
        lines = []
        if corrupted:
            lines.append(f"  errata: {len(corrupted)} clips come from FMA recordings corrupted when the release was "
                         f"made ({', '.join(corrupted[:3])}{', ...' if len(corrupted) > 3 else ''}); consider "
                         "leaving them out")
        for (key, instrument), present in CORRECTED_LABELS.items():
            if key in self._row_of and instrument in self.classes:
                row, column = self._row_of[key], self.classes.index(instrument)
                known = bool(self._labels.y_mask[row, column])
                value = self._labels.y_true[row, column]
                if known and (value >= UNKNOWN) == present:
                    state = "corrected here"
                else:
                    state = (f"not corrected here ({'Y_true ' + format(value, 'g') if known else 'not annotated'}); "
                             f"the errata say {'present' if present else 'absent'}")
                lines.append(f"  errata: {key} {instrument}: {state}")
        return lines

    def summary(self):
        """Labels and partitions counted, the release's errata found, and the log-mel of the first training
        clip with audio."""
        labels = self.labels()
        annotated = labels.y_mask.sum()
        lines = [f"  {len(labels.sample_key)} clips, {len(self.classes)} classes; {annotated} annotated entries "
                 f"({self.positives.sum()} positive), {labels.y_mask.size - annotated} unknown",
                 "  partitions: " + ", ".join(f"{name} {len(keys)}" for name, keys in self.partitions.items())]
        lines += self.errata()
        first = [key for key in self.partitions["train"] if self.audio_path(key).is_file()][:1]
        if first:
            log_mel, _, mask = next(iter(self.log_mel(first)))
            lines.append(f"  audio view of {first[0]}: log-mel {tuple(log_mel.shape)}, "
                         f"{int(np.sum(mask))} labels known")
        return lines


def read_split(path):
    """Read a split written by :func:`write_split`.

    Parameters
    ----------
    path : str or os.PathLike
        A run directory (holding ``split.json``) or the JSON file itself.

    Returns
    -------
    Split
    """
    path = Path(path)
    path = path / SPLIT_NAME if path.is_dir() else path
    try:
        stored = json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"{path}: split file not found; write one with write_split or pass a run directory "
                           "that has one") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DatasetError(f"{path}: unreadable split file ({error}); delete it to draw the split again") from None
    lists = {}
    for name in ("train", "validation", "test"):
        keys = stored.get(name) if isinstance(stored, dict) else None
        if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
            raise DatasetError(
                f"{path}: {name!r} must be a list of sample keys; delete the file to draw the split again")
        lists[name] = tuple(check_key(key, f"{path}, {name}[{index}]") for index, key in enumerate(keys))
    train, validation, test = (set(lists[name]) for name in ("train", "validation", "test"))
    shared = (train & validation) | (test & (train | validation))
    if shared:
        raise DatasetError(f"{path}: {len(shared)} keys are in two sets (e.g. {min(shared)}); "
                           "delete the file to draw the split again")
    return Split(**lists, drawn_with=stored.get("drawn_with", {}))


def write_split(run_dir, split, overwrite=False):
    """Write a split into a run directory as ``split.json`` (atomically).

    Parameters
    ----------
    run_dir : str or os.PathLike
    split : Split
    overwrite : bool
        Replace a different split already there; without it that raises, so
        that runs sharing a directory keep comparing on the same split.

    Returns
    -------
    Path
        The file written (or found holding the same split).
    """
    path = Path(run_dir) / SPLIT_NAME
    if path.exists() and not overwrite:
        stored = read_split(path)
        if (stored.train, stored.validation, stored.test) == (split.train, split.validation, split.test):
            return path
        raise DatasetError(f"{path}: holds a different split; use another run directory, or overwrite it "
                           "knowing that earlier results were computed on the old split")
    write_json(path, {"train": list(split.train), "validation": list(split.validation),
                      "test": list(split.test), "drawn_with": split.drawn_with})
    return path
