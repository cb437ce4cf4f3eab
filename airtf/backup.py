"""The training state of a run, backed up after every epoch so that a killed run resumes.

A backup folder holds::

    state.json      the epochs finished, the slot holding their state, and where each variable lies in it
    slot-0.bin      the values of the model's variables (weights, seed generator states) and
    slot-1.bin      the optimizer's, one after another, raw

Each epoch's state is written into the slot that state.json does not name,
in place, and only then does state.json (replaced atomically) name it; a kill
at any moment leaves state.json and the slot it names whole. Writing in place
is the point of the two slots: replacing VGGish's 870 MB state (with Adam) by
a new file every epoch made the file system free and reallocate its blocks,
0.5-2.5 s an epoch here, against 0.1 s for rewriting the same blocks.
"""

import json
import math
import os
import shutil
from pathlib import Path

import keras
import numpy as np

from airtf.errors import AirtfError
from airtf.files import write_json

STATE_NAME = "state.json"
SLOTS = ("slot-0.bin", "slot-1.bin")
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
    """Back up the training state after every epoch; restore it, and the epoch to go on from, when fit begins.

    The backup folder is removed when training ends (finished, stopped early
    or on NaN); a kill leaves it for the rerun.

    Parameters
    ----------
    folder : str or os.PathLike
    """

    def __init__(self, folder):
        super().__init__()
        self.folder = Path(folder)
        self._slot = None
        self._entries = None

    @property
    def state_path(self):
        return self.folder / STATE_NAME

    def on_train_begin(self, logs=None):
        if not self.state_path.is_file():
            return
        state = json.loads(self.state_path.read_text())
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
        self.model._initial_epoch = state["epoch"]  # as keras.callbacks.BackupAndRestore resumes fit

    def on_epoch_end(self, epoch, logs=None):
        variables = training_variables(self.model)
        self._entries = self._entries or layout(variables)
        slot = 0 if self._slot is None else 1 - self._slot
        self.folder.mkdir(parents=True, exist_ok=True)
        write_slot(self.folder / SLOTS[slot], variables, self._entries)
        write_json(self.state_path, {"format": FORMAT, "epoch": epoch + 1, "slot": slot,
                                     "variables": self._entries})
        self._slot = slot

    def on_train_end(self, logs=None):
        shutil.rmtree(self.folder, ignore_errors=True)
