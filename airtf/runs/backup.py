"""The training state of a run, backed up after every epoch so that a killed run resumes exactly.

A backup folder holds::

    state.json      the epochs finished, the slot holding their state, where each variable lies in it,
                    and the files staged with it
    slot-0.bin      the values of the model's variables (weights, seed generator states) and
    slot-1.bin      the optimizer's, one after another, raw
    staged-E-NAME   a file the epoch E made (a best checkpoint), until it moves into place

An epoch ends with one commit (:class:`Backup`, the last callback): the
epoch's row is appended to the history, its state written into the slot
that state.json does not name, in place, then state.json (replaced
atomically) names that slot and the files the epoch staged, and only then do
those files move into place. state.json is the commit point: a kill at any
moment leaves a committed state and the files it names; what an unfinished
epoch wrote (a history row, a staged checkpoint, a slot) is undone by
:func:`settle` before the rerun reads anything, and the epoch is trained
again from the committed state. Writing in place is the point of the two
slots: replacing VGGish's 870 MB state (with Adam) by a new file every epoch
made the file system free and reallocate its blocks, 0.5-2.5 s an epoch here,
against 0.1 s for rewriting the same blocks.

Every write error is a :class:`airtf.errors.WriteError` naming the file and
what is kept (the state of the last committed epoch, from which the same
command resumes).
"""

import csv
import json
import math
import os
import shutil
from pathlib import Path

import keras
import numpy as np

from airtf.errors import AirtfError, WriteError
from airtf.support.files import atomic_path, display, is_write_error, write_error, write_json

STATE_NAME = "state.json"
SLOTS = ("slot-0.bin", "slot-1.bin")
STAGED_PREFIX = "staged-"
FORMAT = 1


class BackupError(AirtfError):
    """A backup cannot be read into this model."""


def training_variables(model):
    """What a resumed fit needs: the model's variables and, once built, its optimizer's."""
    optimizer = getattr(model, "optimizer", None)
    return [*model.variables, *(optimizer.variables if optimizer is not None else ())]


def layout(variables):
    """Where each variable lies in a slot: [{"path", "dtype", "shape", "offset"}, ...], packed in order."""
    entries, offset = [], 0
    for variable in variables:
        dtype, shape = np.dtype(variable.dtype), [int(size) for size in variable.shape]
        entries.append({"path": variable.path, "dtype": dtype.str, "shape": shape, "offset": offset})
        offset += dtype.itemsize * math.prod(shape)
    return entries


def write_slot(path, variables, entries):
    """Write the variables' values into the slot file ``path`` at their offsets, reusing its blocks."""
    with open(os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644), "r+b") as stream:
        for variable, entry in zip(variables, entries):
            stream.seek(entry["offset"])
            stream.write(np.ascontiguousarray(keras.ops.convert_to_numpy(variable), entry["dtype"]).data)
        stream.truncate()


def read_slot(path, variables, entries):
    """Assign the values stored in the slot file ``path`` to the variables."""
    with open(path, "rb") as stream:
        for variable, entry in zip(variables, entries):
            count = math.prod(entry["shape"])
            stream.seek(entry["offset"])
            values = np.fromfile(stream, entry["dtype"], count)
            if values.size != count:
                raise BackupError(f"{path}: ends before {entry['path']}; the backup is damaged: delete "
                                  f"{Path(path).parent} to start the run over")
            variable.assign(values.reshape(entry["shape"]))


def _shapes(entries):
    """The dtype and shape of each variable of a layout: what must agree for a backup to load.

    Paths are not compared: Keras numbers unnamed layers per process, so the
    same model may be named differently when the rerun builds it.
    """
    return [(entry["dtype"], entry["shape"]) for entry in entries]


class Backup(keras.callbacks.Callback):
    """Commit the training state after every epoch; restore it, and the epoch to go on from, when fit begins.

    Put it after every callback that writes at the end of an epoch (it
    commits what they staged), and call :func:`settle` on the folder before
    any callback reads the history (``airtf.runs.run_directory.Run.callbacks`` does both).

    Parameters
    ----------
    folder : str or os.PathLike
    history : str or os.PathLike or None
        The CSV log to append each committed epoch's row to (``epoch`` and
        the logs' values, sorted by name, as Keras's CSVLogger writes them).
    remove_at_end : bool
        Remove the folder when training ends (finished, stopped early or on
        NaN); else the caller removes it (:func:`finish`) once the run's last
        outputs are written, so that a kill before then still resumes.
    """

    def __init__(self, folder, history=None, remove_at_end=True):
        super().__init__()
        self.folder = Path(folder)
        self.history = None if history is None else Path(history)
        self.remove_at_end = remove_at_end
        self._slot = None
        self._entries = None
        self._staged = {}  # staged file name -> destination

    @property
    def state_path(self):
        return self.folder / STATE_NAME

    def on_train_begin(self, logs=None):
        _write(self.folder, "", lambda: self.folder.mkdir(parents=True, exist_ok=True))
        if not self.state_path.is_file():
            return
        state = read_state(self.folder)
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        variables = training_variables(self.model)
        entries = layout(variables)
        if state.get("format") != FORMAT or _shapes(state["variables"]) != _shapes(entries):
            raise BackupError(f"{self.folder}: holds the training state of another model (its variables differ "
                              f"from this model's); delete {self.folder} to start the run over")
        read_slot(self.folder / SLOTS[state["slot"]], variables, state["variables"])
        self._slot, self._entries = state["slot"], entries
        # as keras.callbacks.BackupAndRestore resumes fit; a training that had ended (stopped early, say)
        # and was killed before its run's last outputs trains no further epoch
        self.model._initial_epoch = max(state["epoch"], self.params.get("epochs", 0)) if state.get("ended") \
            else state["epoch"]

    def stage(self, destination, data, epoch):
        """Write ``data`` (bytes) to be moved to ``destination`` when epoch ``epoch`` (from 0) commits."""
        name = f"{STAGED_PREFIX}{epoch}-{Path(destination).name}"
        _write(destination, self._kept_text(), lambda: _write_bytes(self.folder / name, data))
        self._staged[name] = str(destination)

    def on_epoch_end(self, epoch, logs=None):
        kept = self._kept_text()
        if self.history is not None:
            _write(self.history, kept, lambda: append_history(self.history, epoch, logs or {}))
        variables = training_variables(self.model)
        self._entries = self._entries or layout(variables)
        slot = 0 if self._slot is None else 1 - self._slot
        path = self.folder / SLOTS[slot]
        _write(path, kept, lambda: write_slot(path, variables, self._entries))
        _write(self.state_path, kept, lambda: write_json(self.state_path, {
            "format": FORMAT, "epoch": epoch + 1, "slot": slot, "variables": self._entries,
            "staged": self._staged}))
        self._slot = slot
        _move_staged(self.folder, self._staged)
        self._staged = {}

    def on_train_end(self, logs=None):
        if self.remove_at_end:
            finish(self.folder)
        elif self.state_path.is_file():
            state = read_state(self.folder)
            _write(self.state_path, self._kept_text(), lambda: write_json(self.state_path, {**state, "ended": True}))

    def _kept_text(self):
        """What a write error keeps, for its message."""
        if not self.state_path.is_file():
            return "nothing to resume from yet: the same command starts the run over"
        return (f"kept: the state after epoch {read_state(self.folder)['epoch']} in {display(self.folder)}, from "
                "which the same command resumes")


def read_state(folder):
    """The committed state.json of a backup folder, or a BackupError naming it."""
    path = Path(folder) / STATE_NAME
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(f"{path}: unreadable ({error}); the backup is damaged: delete {Path(folder)} to start the "
                          "run over") from None


def settle(folder, history=None):
    """Undo what an unfinished epoch wrote and finish what a committed one had left to do, before a rerun.

    Files a committed epoch staged move into place; files an unfinished
    epoch staged are removed; the history keeps the rows of committed epochs
    only. Nothing happens without a backup folder (a run that never started,
    or ended).

    Returns
    -------
    int or None
        Epochs committed (0 when none was); None without a backup folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    state = read_state(folder) if (folder / STATE_NAME).is_file() else {"epoch": 0, "staged": {}}
    staged = state.get("staged", {})
    _move_staged(folder, staged)
    for path in folder.glob(f"{STAGED_PREFIX}*"):
        if path.name not in staged:
            path.unlink()
    if history is not None:
        _write(history, "", lambda: truncate_history(history, state["epoch"]))
    return state["epoch"]


def finish(folder):
    """Remove a backup folder: its run has written everything it makes."""
    shutil.rmtree(folder, ignore_errors=True)


def _move_staged(folder, staged):
    """Move staged files (name -> destination) that are still in ``folder`` to their destinations."""
    for name, destination in staged.items():
        if (Path(folder) / name).is_file():
            _write(destination, "", lambda: os.replace(Path(folder) / name, destination))


def _write_bytes(path, data):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644),
              "wb") as stream:
        stream.write(data)


def _write(path, kept, write):
    """Run ``write()``; a write error becomes a WriteError naming ``path`` and what is kept."""
    try:
        write()
    except OSError as error:
        if not is_write_error(error):
            raise
        raise WriteError(f"{write_error(path, error)}" + (f"; {kept}" if kept else "")) from None
    except WriteError as error:
        raise WriteError(f"{error}; {kept}" if kept else str(error)) from None


def append_history(path, epoch, logs):
    """Append epoch ``epoch``'s row to the CSV log ``path``, as Keras's CSVLogger does.

    A new file gets the header ``epoch`` and the logs' names, sorted; a row
    holds the values in the header's order ("NA" for one the epoch lacks).
    """
    path = Path(path)
    header = None
    if path.is_file() and path.stat().st_size:
        with open(path, newline="") as stream:
            header = next(csv.reader(stream), None)
    with open(path, "a", newline="") as stream:
        writer = csv.writer(stream)
        if not header:
            header = ["epoch", *sorted(logs)]
            writer.writerow(header)
        writer.writerow([epoch, *(_cell(logs.get(key, "NA")) for key in header[1:])])


def _cell(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def truncate_history(path, rows):
    """Keep the header and the first ``rows`` rows of the CSV log ``path`` (rewritten atomically if longer)."""
    path = Path(path)
    if not path.is_file():
        return
    lines = path.read_text().splitlines(keepends=True)
    if len(lines) <= rows + 1:
        return
    with atomic_path(path) as temporary:
        temporary.write_text("".join(lines[:rows + 1]) if rows else "")
