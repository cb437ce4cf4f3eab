"""A run directory: everything one training run made, and resuming it.

What a run directory holds is listed, with its file names, in
:mod:`airtf.runs.layout`. Its checkpoints are the model's weights without
the optimizer's state (a third of the backup's size for Adam), loadable by
``model.load_weights``; its backup lasts until the run has written
everything it makes (:meth:`Run.finish`).

Rerunning the same command in the same RUN_DIR continues from the last
finished epoch; a different configuration is refused, so that nothing in a
run directory is silently replaced. Each epoch ends with one commit (its
history row, its best checkpoints and its training state together, see
:mod:`airtf.runs.backup`), so that history.csv and the checkpoints agree after a
kill or a full disk at any moment.
"""

import csv
import json
import math
import os
import tempfile
from pathlib import Path

import keras
import numpy as np

from airtf.errors import AirtfError, WriteError
from airtf.runs import backup as backups, summaries
from airtf.runs.layout import (BACKBONE_NAME, BACKUP_FOLDER, BEST_WEIGHTS, CHECKPOINTS_FOLDER, CONFIG_NAME,
                               HISTORY_NAME, LAST_WEIGHTS, LOGS_FOLDER)
from airtf.support.files import atomic_path, free_bytes, size_text, write_json
from airtf.support.locks import LOCK_NAME

IGNORED_CONFIG_KEYS = ("epochs",)
"""Config keys that may change between resumes: training longer is continuing."""
HISTOGRAM_BUCKETS = 30


class RunError(AirtfError):
    """A run directory cannot be used as asked."""


class TrainingDiverged(AirtfError):
    """The loss became NaN or infinite; the last good weights were kept."""


class Run:
    """A run directory (see the module docstring for its layout).

    Use :func:`start` to make or reopen one.
    """

    def __init__(self, path):
        self.path = Path(path)

    @property
    def config(self):
        return read_config(self.path)

    @property
    def logs(self):
        return self.path / LOGS_FOLDER

    @property
    def backup(self):
        return self.path / BACKUP_FOLDER

    @property
    def history(self):
        return self.path / HISTORY_NAME

    @property
    def best_weights(self):
        return self.path / CHECKPOINTS_FOLDER / BEST_WEIGHTS

    @property
    def last_weights(self):
        return self.path / CHECKPOINTS_FOLDER / LAST_WEIGHTS

    @property
    def backbone_weights(self):
        return self.path / BACKBONE_NAME

    @property
    def resuming(self):
        """Whether an earlier attempt started training and did not finish (its backup folder is there)."""
        return self.backup.is_dir()

    def save_weights(self, model, path):
        """Save ``model``'s weights to ``path`` atomically (see :func:`save_model_weights`)."""
        return save_model_weights(model, path)

    def settle(self):
        """Settle what an interrupted attempt left (:func:`airtf.runs.backup.settle`); return the epochs it finished."""
        return backups.settle(self.backup, self.history) or 0

    def finish(self):
        """Remove the resume backup: call once the run has written everything it makes."""
        backups.finish(self.backup)

    def callbacks(self, monitor="val_loss", mode="min", patience=None, histograms=False, extra=(), tie_breaker=None):
        """The callbacks every airtf training uses.

        TensorBoard logs (:mod:`airtf.runs.summaries`: the epoch's metrics in
        logs/train and logs/validation, with ``histograms`` one of every
        weight per epoch in logs/train), the best and the last weights,
        optional early stopping, the epoch's commit (its history row, its
        best checkpoints and its training state, see :mod:`airtf.runs.backup`)
        and a stop on NaN that keeps the last good weights. What an
        unfinished earlier attempt wrote is settled first, so that best
        weights and early stopping carry on from the committed history.csv;
        after fit, load the best epoch's weights (of all attempts) from
        :attr:`best_weights` with :func:`load_model_weights`, and call
        :meth:`finish` once the run's outputs are written. A
        :class:`KeepWeights` with a ``monitor`` among ``extra`` stages its
        weights with the commit too.
        """
        self.best_weights.parent.mkdir(parents=True, exist_ok=True)
        self.settle()
        backup = backups.Backup(self.backup, self.history, remove_at_end=False)
        for callback in extra:
            if isinstance(callback, KeepWeights) and callback.monitor:
                callback.backup = backup
        return [
            summaries.EpochScalars(self.logs),
            KeepWeights(self.best_weights, monitor=monitor, mode=mode, history=self.history, tie_breaker=tie_breaker,
                        backup=backup),
            KeepWeights(self.last_weights),
            *([WeightHistograms(self.logs / summaries.TRAIN)] if histograms else []),
            *extra,
            *([ResumableEarlyStopping(self.history, monitor=monitor, mode=mode, patience=patience)] if patience
              else []),
            backup,  # after every callback that writes at the end of an epoch: it commits what they wrote
            StopOnNaN(),  # after the backup, whose restore gives the weights it keeps as good
        ]


class KeepWeights(keras.callbacks.Callback):
    """Write the weights atomically when ``monitor`` improves, or (without one) when training ends.

    With ``monitor``, the best epoch so far is read back from the run's CSV
    log when training (re)starts, so a resumed run never replaces the weights
    of a better earlier epoch. A non-finite value is never the best; with
    ``tie_breaker`` (a loss), an epoch that equals the best ``monitor`` value
    replaces it when its ``tie_breaker`` is lower. With ``backup`` (an
    :class:`airtf.runs.backup.Backup`), the weights are staged and move into place
    when the epoch commits, so they always belong to an epoch of the history.
    """

    def __init__(self, path, monitor=None, mode="min", history=None, tie_breaker=None, backup=None):
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.mode = mode
        self.tie_breaker = tie_breaker
        self.history = history
        self.backup = backup
        self.best = None

    def on_train_begin(self, logs=None):
        columns = read_history(self.history)
        epoch = best_epoch(columns, self.monitor, self.mode, self.tie_breaker) if self.monitor else None
        self.best = None
        if epoch is not None and self.path.is_file():
            self.best = epoch_rank({key: values[epoch] for key, values in columns.items()},
                                   self.monitor, self.mode, self.tie_breaker)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor is None:
            return
        rank = epoch_rank(logs or {}, self.monitor, self.mode, self.tie_breaker)
        if rank is None or (self.best is not None and rank >= self.best):
            return
        self.best = rank
        if self.backup is None:
            save_model_weights(self.model, self.path)
        else:
            self.backup.stage(self.path, model_weights_bytes(self.model), epoch)

    def on_train_end(self, logs=None):
        if self.monitor is None:
            save_model_weights(self.model, self.path)


def epoch_rank(logs, monitor, mode="min", tie_breaker=None):
    """How good one epoch's logs are: a tuple, lower is better; None when ``monitor`` is not finite.

    Parameters
    ----------
    logs : dict
        Metric name -> value of the epoch.
    monitor : str
    mode : {"min", "max"}
    tie_breaker : str or None
        A loss that orders epochs of equal ``monitor`` (lower first; a
        missing or non-finite one last).
    """
    value = _number(logs.get(monitor))
    if not math.isfinite(value):
        return None
    tie = _number(logs.get(tie_breaker)) if tie_breaker else 0.0
    return (-value if mode == "max" else value, tie if math.isfinite(tie) else math.inf)


def best_epoch(columns, monitor, mode="min", tie_breaker=None):
    """The best epoch (from 0) of a history (see :func:`epoch_rank`): the first of equals; None without one.

    Parameters
    ----------
    columns : dict
        Column name -> list of values per epoch (:func:`read_history`).
    """
    ranked = []
    for epoch in range(len(columns.get(monitor, ()))):
        rank = epoch_rank({key: values[epoch] for key, values in columns.items()}, monitor, mode, tie_breaker)
        if rank is not None:
            ranked.append((rank, epoch))
    return min(ranked)[1] if ranked else None


def _optimizer(model):
    """The objects of ``model`` that :func:`save_model_weights` leaves out: its optimizer, if compiled."""
    return [model.optimizer] if getattr(model, "optimizer", None) is not None else None


SCRATCH_FOLDERS = ("/dev/shm",)
"""Memory-backed folders tried first for the scratch copy of :func:`model_weights_bytes` (then the temp folder)."""
SCRATCH_MARGIN = 1.1, 16 << 20
"""Room a scratch folder must have beyond the weights' bytes: a factor and bytes (HDF5's own structures)."""


def model_weights_bytes(model):
    """``model``'s weights without its optimizer's state, as the bytes of a Keras .weights.h5 file.

    Adam keeps two slots per weight, so the file is a third of
    ``model.save_weights``'s; ``model.load_weights`` reads it (warning that the
    optimizer was not saved), :func:`load_model_weights` reads it quietly.
    HDF5 meeting a full disk mid-file left its library in a state that
    crashed the process at exit (exit 139), where a plain write of finished
    bytes fails cleanly: so Keras writes the file into a scratch folder
    that has room for it, memory-backed where there is one, and the caller
    writes its bytes where they belong.
    """
    size = sum(math.prod(weight.shape) * np.dtype(weight.dtype).itemsize for weight in model.weights)
    with tempfile.TemporaryDirectory(prefix="airtf-weights-", dir=_scratch_folder(size)) as scratch:
        path = Path(scratch) / "model.weights.h5"
        keras.saving.save_weights(model, path, objects_to_skip=_optimizer(model))
        return path.read_bytes()


def _scratch_folder(size):
    """The first folder with room for a weights file of about ``size`` bytes; a WriteError where none has."""
    factor, extra = SCRATCH_MARGIN
    candidates = [folder for folder in SCRATCH_FOLDERS if os.path.isdir(folder) and os.access(folder, os.W_OK)]
    candidates.append(tempfile.gettempdir())
    for folder in candidates:
        if free_bytes(folder) >= size * factor + extra:
            return folder
    room = ", ".join(f"{folder}: {size_text(free_bytes(folder))} free" for folder in candidates)
    raise WriteError(f"{candidates[-1]}: no room for the {size_text(size)} of the model's weights ({room}); "
                     "free some space there, or point TMPDIR at a folder that has it")


def save_model_weights(model, path):
    """Save ``model``'s weights (:func:`model_weights_bytes`) to ``path``, a .weights.h5, atomically."""
    data = model_weights_bytes(model)
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return path


def load_model_weights(model, path):
    """Load weights written by :func:`save_model_weights` into ``model``, leaving its optimizer as it is."""
    keras.saving.load_weights(model, path, objects_to_skip=_optimizer(model))


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping that, on a resumed run, starts from the best epoch and the wait in the CSV log."""

    def __init__(self, history, **kwargs):
        super().__init__(**kwargs)
        self.history = history

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        columns = read_history(self.history)
        epoch = best_epoch(columns, self.monitor, self.mode)
        if epoch is not None:
            self.best, self.best_epoch = columns[self.monitor][epoch], epoch
            self.wait = len(columns[self.monitor]) - 1 - epoch


class WeightHistograms(keras.callbacks.Callback):
    """TensorBoard histograms of every weight of the model after each epoch, bucketed with numpy.

    Keras's ``TensorBoard(histogram_freq=1)`` buckets a weight through a
    one-hot matrix of (values x 30) float64, 12 GB for VGGish's fc1_1
    kernel; this writes the same summaries (tag ``<weight path>/histogram``,
    step = epoch) with a few bytes per value, into ``log_dir``.

    Parameters
    ----------
    log_dir : str or os.PathLike
    buckets : int
    """

    def __init__(self, log_dir, buckets=HISTOGRAM_BUCKETS):
        super().__init__()
        self.log_dir = log_dir
        self.buckets = buckets

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf
        from tensorboard.plugins.histogram import metadata as histogram_metadata

        writer = summaries.writer(self.log_dir)
        with writer.as_default(step=epoch):
            for weight in self.model.weights:
                values = keras.ops.convert_to_numpy(weight)
                tf.summary.write(f"{weight.path}/histogram", histogram_buckets(values, self.buckets),
                                 metadata=histogram_metadata.create_summary_metadata(weight.path, ""))
        writer.flush()


def histogram_buckets(values, buckets=HISTOGRAM_BUCKETS):
    """TensorBoard's histogram of ``values``: float64 (buckets, 3) rows of (left edge, right edge, count).

    Equal-width buckets from the minimum to the maximum; values all equal
    fall into the last bucket, whose edges are both that value (as
    tensorboard's own summary does).
    """
    values = np.asarray(values, np.float64).ravel()
    low, high = values.min(), values.max()
    if low == high:
        counts = np.zeros(buckets)
        counts[-1] = values.size
        return np.stack([np.full(buckets, high), np.full(buckets, high), counts], axis=1)
    counts, edges = np.histogram(values, bins=buckets, range=(low, high))
    return np.stack([edges[:-1], edges[1:], counts.astype(np.float64)], axis=1)


def read_history(path):
    """A CSV training log as {column: [float per epoch]}; empty when absent."""
    if path is None or not Path(path).is_file():
        return {}
    with open(path, newline="") as stream:
        rows = list(csv.DictReader(stream))
    return {key: [_number(row.get(key)) for row in rows] for key in (rows[0] if rows else {})}


def _number(text):
    """A CSV cell as a float; NaN for the blanks and "NA" that CSVLogger writes."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def read_config(path):
    """A run directory's config.json, or a RunError saying it is damaged."""
    try:
        return json.loads((Path(path) / CONFIG_NAME).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunError(f"{Path(path) / CONFIG_NAME}: unreadable ({error}); the run directory is damaged: choose "
                       "another --out") from None


def check_run_folder(path, inputs=(), command=None):
    """Raise RunError unless ``path`` is new, empty, or a run of ``command``.

    A folder holding files but no run is refused (a run would mix with them,
    and ``overwrite`` would delete them), as is a run of another command.
    ``inputs`` are names that may be there (see :func:`start`).
    """
    path = Path(path)
    if not path.exists():
        return
    if not path.is_dir():
        raise RunError(f"{path}: is a file, not a folder; choose another --out")
    if (path / CONFIG_NAME).is_file():
        made_by = read_config(path).get("command")
        if command is not None and made_by != command:
            raise RunError(f"{path}: holds a run of {made_by or 'another command'}, not of {command}; choose "
                           "another --out")
        return
    foreign = sorted(entry.name for entry in path.iterdir() if entry.name not in (*inputs, LOCK_NAME))
    if foreign:
        raise RunError(f"{path}: holds files but no airtf run (no {CONFIG_NAME}; e.g. {foreign[0]}); choose a new "
                       "or empty folder for --out")


def start(path, config, overwrite=False, inputs=()):
    """Make a run directory for ``config``, or reopen the one that holds the same config.

    Parameters
    ----------
    path : str or Path
    config : dict
        JSON-serialisable; written to config.json.
    overwrite : bool
        Replace config.json even when it differs (the other files are then
        those of the earlier run: use a fresh directory to start clean).
    inputs : sequence of str
        Names a new run directory may already hold (files the user put
        there for the run to read); anything else in a folder without
        config.json is refused, so that a run never mixes with, or its
        ``overwrite`` deletes, a user's files.

    Raises
    ------
    RunError
        When the directory holds a run with a different configuration, or
        files but no run.
    """
    run = Run(path)
    config = json.loads(json.dumps(config))  # normalise tuples, paths were already str
    existing = run.path / CONFIG_NAME
    check_run_folder(run.path, inputs, config.get("command"))
    if existing.is_file() and not overwrite:
        before = read_config(run.path)
        differences = sorted(key for key in set(before) | set(config)
                             if key not in IGNORED_CONFIG_KEYS and before.get(key) != config.get(key))
        if differences:
            raise RunError(f"{run.path}: holds a run with a different configuration ({', '.join(differences)} "
                           "differ); choose another --out, or pass --overwrite to replace it")
    run.path.mkdir(parents=True, exist_ok=True)
    write_json(existing, config)
    return run


class StopOnNaN(keras.callbacks.Callback):
    """Stop training when the loss is NaN or infinite, keeping the last good weights.

    The weights at the end of the last finished epoch are restored and
    :attr:`diverged` is set; callers raise :class:`TrainingDiverged` after fit.
    """

    def __init__(self):
        super().__init__()
        self.diverged = None
        self._good = None

    def on_train_begin(self, logs=None):
        self._good = self.model.get_weights()  # a resumed run's: the backup restored them before

    def on_epoch_end(self, epoch, logs=None):
        if not self.diverged:
            self._good = self.model.get_weights()

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.diverged = f"the loss became {float(loss)} in batch {batch}"
            self.model.set_weights(self._good)
            self.model.stop_training = True


def check_diverged(callbacks, run=None):
    """Raise :class:`TrainingDiverged` if a StopOnNaN among ``callbacks`` stopped the run.

    With ``run``, the message names it and the run is finished first (its
    backup removed): resuming would diverge again.
    """
    for callback in callbacks:
        if isinstance(callback, StopOnNaN) and callback.diverged:
            if run is not None:
                run.finish()
            where = f"{run.path}: " if run is not None else ""
            raise TrainingDiverged(f"{where}{callback.diverged}; training stopped and the last good weights "
                                   "were kept: lower --lr or check the data for NaN/Inf")


# ---------------------------------------------------------------- the data split of a run
