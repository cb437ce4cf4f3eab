"""Training state backups: exact resumes, slots rewritten in place, kills during a write, wrong models."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from airtf.runs import backup


def model(units=1):
    keras.utils.set_random_seed(0)
    made = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dropout(0.2),
                             keras.layers.Dense(units)])
    made.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return made


def data():
    x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    return x, x.sum(axis=1, keepdims=True)


class Kill(keras.callbacks.Callback):
    """Stops fit with an exception in the middle of ``epoch``, as a kill would."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == 2:
            raise KeyboardInterrupt


def fit(made, folder, epochs, *extra):
    return made.fit(*data(), batch_size=8, epochs=epochs, shuffle=False, verbose=0,
                    callbacks=[backup.Backup(folder), *extra])


def state(made):
    return [keras.ops.convert_to_numpy(variable) for variable in backup.training_variables(made)]


def assert_same(first, second):
    assert len(first) == len(second)
    for one, other in zip(first, second):
        np.testing.assert_array_equal(one, other)


def test_a_resumed_fit_ends_exactly_where_an_uninterrupted_one_does(tmp_path):
    straight = model()
    fit(straight, tmp_path / "straight", 4)
    interrupted = model()
    with pytest.raises(KeyboardInterrupt):
        fit(interrupted, tmp_path / "backup", 4, Kill(2))
    resumed = model()  # a new process: fresh weights, an optimizer without state
    history = fit(resumed, tmp_path / "backup", 4)
    assert len(history.history["loss"]) == 2  # epochs 2 and 3 only
    assert_same(state(resumed), state(straight))  # weights, Adam's slots, dropout's seed state
    assert not (tmp_path / "backup").exists()  # training ended: nothing left to resume


def test_slots_alternate_and_are_rewritten_in_place(tmp_path):
    made, folder = model(), tmp_path / "backup"
    seen = []

    class Watch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            current = json.loads((folder / backup.STATE_NAME).read_text())
            slot = folder / backup.SLOTS[current["slot"]]
            seen.append((current["epoch"], current["slot"], slot.stat().st_ino))

    with pytest.raises(KeyboardInterrupt):
        fit(made, folder, 6, Watch(), Kill(5))
    assert [(epoch, slot) for epoch, slot, _ in seen] == [(1, 0), (2, 1), (3, 0), (4, 1), (5, 0)]
    inodes = {slot: {inode for _, used, inode in seen if used == slot} for slot in (0, 1)}
    assert all(len(numbers) == 1 for numbers in inodes.values())  # same files, no replacement


def test_a_kill_while_a_slot_is_written_resumes_from_the_epoch_before(tmp_path, monkeypatch):
    made, folder = model(), tmp_path / "backup"
    kept = []

    class Remember(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            kept.append(state(self.model))

    with pytest.raises(KeyboardInterrupt):
        fit(made, folder, 5, Remember(), Kill(3))
    written = backup.write_slot

    def dies_half_way(path, variables, entries):
        written(path, variables[: len(variables) // 2], entries[: len(entries) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(backup, "write_slot", dies_half_way)
    resumed = model()
    with pytest.raises(KeyboardInterrupt):
        fit(resumed, folder, 5)  # finishes epoch 3, dies writing its state
    monkeypatch.undo()
    again = model()
    callback = backup.Backup(folder)
    callback.set_model(again)
    callback.on_train_begin()
    assert again._initial_epoch == 3
    assert_same(state(again), kept[-1])  # the end of epoch 2 of the interrupted run, whole


def test_a_backup_of_another_model_is_refused(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        fit(model(), tmp_path / "backup", 3, Kill(1))
    with pytest.raises(backup.BackupError, match="another model.*delete .*backup"):
        fit(model(units=2), tmp_path / "backup", 3)


def test_a_truncated_slot_is_reported(tmp_path):
    folder = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        fit(model(), folder, 3, Kill(1))
    slot = folder / backup.SLOTS[json.loads((folder / backup.STATE_NAME).read_text())["slot"]]
    slot.write_bytes(slot.read_bytes()[:100])
    with pytest.raises(backup.BackupError, match="slot-0.bin: ends before .*damaged"):
        fit(model(), folder, 3)


MIRRORED_RESUME = """
import shutil, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from airtf.runs import backup
strategy = tf.distribute.MirroredStrategy([device.name for device in tf.config.list_logical_devices("CPU")])
x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
y = x.sum(axis=1, keepdims=True)

def model():
    keras.utils.set_random_seed(0)
    with strategy.scope():
        made = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
        made.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return made

class Kill(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch
    def on_train_batch_end(self, batch, logs=None):
        if self.current == 2 and batch == 2:
            raise KeyboardInterrupt

def fit(made, *callbacks):
    return made.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0, callbacks=list(callbacks))

straight = model()
fit(straight)
try:
    fit(model(), backup.Backup(sys.argv[1]), Kill())
except KeyboardInterrupt:
    pass
resumed = model()
epochs = len(fit(resumed, backup.Backup(sys.argv[1])).history["loss"])
difference = max(float(np.abs(a - b).max()) for a, b in zip(resumed.get_weights(), straight.get_weights()))
print(epochs, difference)
"""


@pytest.mark.slow
def test_a_mirrored_fit_resumes_exactly(tmp_path):
    """Under MirroredStrategy over two logical CPUs (a fresh TensorFlow: a subprocess)."""
    done = subprocess.run([sys.executable, "-c", MIRRORED_RESUME, str(tmp_path / "backup")], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    epochs, difference = done.stdout.split()
    assert (int(epochs), float(difference)) == (2, 0.0)
