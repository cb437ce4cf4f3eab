"""Run directories: config checks, resume after an interruption, NaN handling."""

import csv

import keras
import numpy as np
import pytest

from airtf.errors import WriteError
from airtf.runs import run_directory


def tiny_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    return model


def data(nan=False):
    x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    if nan:
        y[40:] = np.nan
    return x, y


class Interrupt(keras.callbacks.Callback):
    """Simulates a kill in the middle of an epoch."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._epoch == self.epoch and batch == 1:
            raise KeyboardInterrupt

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch


def test_a_different_config_is_refused(tmp_path):
    run_directory.start(tmp_path / "run", {"lr": 0.1, "epochs": 3})
    run_directory.start(tmp_path / "run", {"lr": 0.1, "epochs": 9})  # more epochs: continuing
    with pytest.raises(run_directory.RunError, match="lr differ.*--overwrite"):
        run_directory.start(tmp_path / "run", {"lr": 0.2, "epochs": 3})
    assert run_directory.start(tmp_path / "run", {"lr": 0.2}, overwrite=True).config == {"lr": 0.2}


def test_rerun_resumes_after_an_interruption(tmp_path):
    run = run_directory.start(tmp_path / "run", {"what": "tiny"})
    x, y = data()
    with pytest.raises(KeyboardInterrupt):
        tiny_model().fit(x, y, batch_size=8, epochs=6, verbose=0,
                         callbacks=run.callbacks(monitor="loss", histograms=False) + [Interrupt(3)])
    assert run.resuming
    history = tiny_model().fit(x, y, batch_size=8, epochs=6, verbose=0,
                               callbacks=run.callbacks(monitor="loss", histograms=False))
    assert len(history.history["loss"]) == 3  # epochs 3, 4, 5 only
    with open(run.history) as stream:
        epochs = [int(row["epoch"]) for row in csv.DictReader(stream)]
    assert epochs == [0, 1, 2, 3, 4, 5]
    assert run.best_weights.is_file() and run.last_weights.is_file()


def test_nan_loss_stops_and_keeps_good_weights(tmp_path):
    run = run_directory.start(tmp_path / "run", {})
    model = tiny_model()
    x, y = data()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    good = model.get_weights()
    callbacks = run.callbacks(monitor="loss", histograms=False)
    model.fit(*data(nan=True), batch_size=8, epochs=3, verbose=0, shuffle=False, callbacks=callbacks)
    with pytest.raises(run_directory.TrainingDiverged, match="loss became nan.*last good weights"):
        run_directory.check_diverged(callbacks)
    for kept, before in zip(model.get_weights(), good):
        np.testing.assert_array_equal(kept, before)


def test_resume_keeps_the_best_weights_of_earlier_epochs(tmp_path):
    run = run_directory.start(tmp_path / "run", {})
    x, y = data()
    run.history.write_text("epoch,loss\n0,0.000001\n")  # an earlier attempt already did better
    run.best_weights.parent.mkdir(parents=True)
    model = tiny_model()
    model.save_weights(run.best_weights)
    before = run.best_weights.read_bytes()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=run.callbacks(monitor="loss", histograms=False))
    assert run.best_weights.read_bytes() == before
    assert run_directory.read_history(run.history)["loss"][0] == 0.000001


def test_best_and_last_weights_leave_out_the_optimizer_state(tmp_path):
    import h5py

    run = run_directory.start(tmp_path / "run", {})
    model = tiny_model()
    x, y = data()
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=run.callbacks(monitor="loss", histograms=False))
    for path in (run.best_weights, run.last_weights):
        with h5py.File(path) as stored:
            assert "optimizer" not in stored and "layers" in stored
    model.save_weights(tmp_path / "with-optimizer.weights.h5")
    with h5py.File(tmp_path / "with-optimizer.weights.h5") as stored:
        assert "optimizer" in stored  # what the checkpoints leave out
    fresh = tiny_model()
    run_directory.load_model_weights(fresh, run.last_weights)
    for loaded, trained in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(loaded, trained)


def test_weights_are_written_in_a_scratch_folder_with_room_for_them(tmp_path, monkeypatch):
    shm, temporary = tmp_path / "shm", tmp_path / "tmp"
    shm.mkdir(), temporary.mkdir()
    monkeypatch.setattr(run_directory, "SCRATCH_FOLDERS", (str(shm),))
    monkeypatch.setattr(run_directory.tempfile, "tempdir", str(temporary))
    room = {str(shm): 0, str(temporary): 1 << 30}
    monkeypatch.setattr(run_directory, "free_bytes", lambda folder: room[str(folder)])
    used = []
    original = run_directory.tempfile.TemporaryDirectory
    monkeypatch.setattr(run_directory.tempfile, "TemporaryDirectory",
                        lambda **kwargs: used.append(kwargs["dir"]) or original(**kwargs))
    model = tiny_model()
    fresh = tiny_model()
    path = tmp_path / "model.weights.h5"
    path.write_bytes(run_directory.model_weights_bytes(model))
    assert used == [str(temporary)]  # the memory-backed folder had no room
    run_directory.load_model_weights(fresh, path)
    for loaded, saved in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(loaded, saved)
    assert not list(temporary.iterdir())  # the scratch copy is gone
    room[str(temporary)] = 1000
    with pytest.raises(WriteError, match=f"{temporary}: no room for the .* of the model's weights "
                                         f"\\({shm}: 0 kB free, {temporary}: 1 kB free\\); .*TMPDIR"):
        run_directory.model_weights_bytes(model)
