"""The base class every data set shares: validate, splits, labels, log-mel and feature views.

A data set is read from its folder in the layout in which it is released.
Each subclass says where its parts are and how to read them; this class
gives them one shape::

    data = NSynth(root)                     # or OpenMIC(root), Freesound(root)
    report = data.validate()                # what is there, what is wrong, what it serves
    data.splits                             # ("train", "valid", "test")
    data.labels("valid")                    # the labels of a split
    data.log_mel("valid")                   # tf.data: (log-mel examples, labels...)
    data.features("valid", model)           # the same, examples through any model

Nothing here imports a model: :meth:`Dataset.features` maps whatever model
it is given (a VGGish from :func:`airtf.vggish.from_preset`, say).
"""

import abc
from pathlib import Path

from airtf import params
from airtf.datasets.pipeline import DatasetError


class Report:
    """What :meth:`Dataset.validate` found.

    Parameters
    ----------
    title : str
        The data set's name.
    root : str or os.PathLike
    problems : list of str
        What stops the data set from being used, one line each.
    notes : list of str
        What is there and what it serves, one line each.
    """

    def __init__(self, title, root, problems=(), notes=()):
        self.title, self.root = title, Path(root)
        self._problems, self._notes = list(problems), list(notes)

    @property
    def problems(self):
        """What stops the data set from being used, one line each."""
        return self._problems

    @property
    def notes(self):
        """What is there and what it serves, one line each."""
        return self._notes

    @property
    def ok(self):
        """True when nothing stops the data set from being used."""
        return not self.problems

    def __str__(self):
        header = f"{self.title} at {self.root}: {'ok' if self.ok else 'problems found'}"
        return "\n".join([header, *self.problems, *(f"  {note}" for note in self.notes)])


class Dataset(abc.ABC):
    """A data set in its released layout under ``root``.

    Parameters
    ----------
    root : str or os.PathLike
        The data set's folder.

    Raises
    ------
    DatasetError
        ``root`` is not a folder.
    """

    title = "a data set"
    """Its name in messages and reports."""

    def __init__(self, root):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: no such folder; pass the folder holding {self.title} in its "
                               "released layout")

    @property
    @abc.abstractmethod
    def splits(self):
        """The names of the splits the folder holds, in the release's order."""

    @abc.abstractmethod
    def labels(self, split):
        """The labels of a split (their form is the data set's)."""

    @abc.abstractmethod
    def log_mel(self, split, **options):
        """A split as tf.data: each element's log-mel example(s) first, then its labels."""

    def streaming_problem(self, error):
        """A one-line :class:`DatasetError` for ``error``, met by tf.data as this data set streamed; or None.

        The first line of an error that names a file of the data set (an
        audio file that fails to decode, say) serves as it is; subclasses
        look for the file and record at fault where tf.data does not say
        (:meth:`airtf.datasets.nsynth.NSynth.streaming_problem`).
        """
        for line in getattr(error, "message", str(error)).splitlines():
            line = line.split("AudioError: ", 1)[-1].strip()
            if line.startswith(str(self.root)):
                return DatasetError(line)
        return None

    @abc.abstractmethod
    def validate(self):
        """Check which parts are present and whether they agree; returns a :class:`Report`, raises nothing."""

    @abc.abstractmethod
    def summary(self):
        """A few lines about what the loaders read: counts, and the first element of each split."""

    def features(self, split, model, **options):
        """:meth:`log_mel` with every element's examples replaced by ``model``'s features of them.

        Parameters
        ----------
        split
            As :meth:`log_mel`.
        model : callable
            Log-mel examples (n, 96, 64) to features (n, D): a keras.Model
            such as a VGGish, possibly followed by post-processing.
        **options
            For :meth:`log_mel`.

        Returns
        -------
        tf.data.Dataset
            Elements as :meth:`log_mel`'s, the first float32 (..., D) in
            place of (..., 96, 64).
        """
        import tensorflow as tf

        def embed(examples, *labels):
            leading = tf.shape(examples)[:-2]
            flat = tf.reshape(examples, [-1, params.EXAMPLE_FRAMES, params.NUM_MEL_BINS])
            features = tf.cast(model(flat, training=False), tf.float32)
            return (tf.reshape(features, tf.concat([leading, tf.shape(features)[-1:]], 0)), *labels)

        return self.log_mel(split, **options).map(embed).prefetch(tf.data.AUTOTUNE)

    def check(self):
        """:meth:`validate`, then :meth:`summary` when nothing is wrong.

        Returns
        -------
        lines : list of str
        ok : bool
        """
        report = self.validate()
        lines = str(report).splitlines()
        return (lines + self.summary() if report.ok else lines), report.ok
