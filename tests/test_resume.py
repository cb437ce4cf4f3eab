"""Pre-training resumes exactly: after kill -9 mid-epoch, a full disk during the best checkpoint, a filled tmpfs.

Each interrupted run is rerun to its end by the same command and must give the
uninterrupted run's history.csv and weights bit for bit (``--deterministic``).
The runs are whole commands in processes of their own (3 epochs of den-add
on 16 demo notes), hence ``slow``.
"""

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from test_pretrain import committed_epochs, environment

pytestmark = pytest.mark.slow

EPOCHS = 3
WEIGHT_FILES = ("checkpoints/best.weights.h5", "checkpoints/last.weights.h5", "vggish.weights.h5")
FULL_DISK_AT_THE_BEST_CHECKPOINT = """
import errno, sys
sys.argv[0] = "airtf-pretrain"
from airtf.runs import reproducible
from airtf.support import native_logs
native_logs.filter_native_logs()  # as the command does, before TensorFlow speaks
reproducible.enable()  # --deterministic: before the backup module imports TensorFlow
from airtf.runs import backup
written = backup._write_bytes
def full_at_epoch_2(path, data):
    if path.name.startswith("staged-1-"):
        raise OSError(errno.ENOSPC, "No space left on device")
    written(path, data)
backup._write_bytes = full_at_epoch_2
from airtf.cli import pretrain
sys.exit(pretrain.main())
"""


def command(nsynth_dir, run_dir):
    return [sys.executable, "-m", "airtf.cli.pretrain", "--objective", "den-add", "--data", str(nsynth_dir),
            "--out", str(run_dir), "--limit", "16", "--batch-size", "4", "--epochs", str(EPOCHS), "--patience", "0",
            "--deterministic"]


def run_to_the_end(arguments):
    done = subprocess.run(arguments, capture_output=True, text=True, env=environment(), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def folder_bytes(folder):
    return sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())


class PeakSize(threading.Thread):
    """Samples the size of a folder every 10 ms while it runs; ``peak`` is the largest seen."""

    def __init__(self, folder):
        super().__init__(daemon=True)
        self.folder, self.peak, self.running = folder, 0, True

    def run(self):
        while self.running:
            try:
                self.peak = max(self.peak, folder_bytes(self.folder))
            except OSError:  # a file went as it was read
                pass
            time.sleep(0.01)


@pytest.fixture(scope="module")
def uninterrupted(nsynth_dir, tmp_path_factory):
    """The run straight through, and the largest its run directory grew."""
    run_dir = tmp_path_factory.mktemp("straight") / "run"
    sampler = PeakSize(run_dir)
    sampler.start()
    run_to_the_end(command(nsynth_dir, run_dir))
    sampler.running = False
    sampler.join()
    return run_dir, sampler.peak


def weights(path):
    """Every array of an HDF5 weights file, by its path inside the file."""
    arrays = {}
    with h5py.File(path, "r") as stored:
        stored.visititems(lambda name, item: arrays.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset)
                          else None)
    return arrays


def assert_same_run(run_dir, expected):
    assert (run_dir / "history.csv").read_bytes() == (expected / "history.csv").read_bytes()
    for name in WEIGHT_FILES:
        found, wanted = weights(run_dir / name), weights(expected / name)
        assert found.keys() == wanted.keys(), name
        for key in wanted:
            np.testing.assert_array_equal(found[key], wanted[key], err_msg=f"{name}: {key}")
    assert not (run_dir / "backup").exists()


def test_the_disk_plan_holds_the_runs_peak(uninterrupted, nsynth_dir):
    from airtf.pretrain import training

    run_dir, peak = uninterrupted
    settings = training.Settings("den-add", nsynth_dir, epochs=EPOCHS, batch_size=4, limit=16, patience=0)
    planned = training.plan(settings, run_dir.parent / "planned", measure=False)
    assert peak > 2 * 870e6  # both backup slots were there at once
    assert planned.disk_bytes >= peak, (planned.disk_bytes, peak)


def test_kill_9_in_the_middle_of_an_epoch_then_the_rerun_equals_the_uninterrupted_run(uninterrupted, nsynth_dir,
                                                                                      tmp_path):
    run_dir = tmp_path / "run"
    first = subprocess.Popen(command(nsynth_dir, run_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=environment())
    try:
        deadline = time.monotonic() + 600
        while committed_epochs(run_dir) < 1 and time.monotonic() < deadline:
            assert first.poll() is None, first.communicate()[1][-3000:]
            time.sleep(0.02)
        time.sleep(1.0)  # into epoch 2's batches
        first.send_signal(signal.SIGKILL)
    finally:
        first.kill()
        first.communicate()
    assert committed_epochs(run_dir) == 1
    rerun = run_to_the_end(command(nsynth_dir, run_dir))
    assert "resumed after epoch 1" in rerun.stdout.strip().splitlines()[-1]
    assert_same_run(run_dir, uninterrupted[0])


def test_a_full_disk_while_the_best_checkpoint_is_written_is_one_line_and_the_rerun_is_exact(uninterrupted,
                                                                                             nsynth_dir, tmp_path):
    losses = [float(row.split(",")[-1]) for row in (uninterrupted[0] / "history.csv").read_text().splitlines()[1:]]
    assert losses[1] < losses[0]  # epoch 2 is a new best: its checkpoint is written (column val_loss is last)
    run_dir = tmp_path / "run"
    arguments = command(nsynth_dir, run_dir)
    failed = subprocess.run([sys.executable, "-c", FULL_DISK_AT_THE_BEST_CHECKPOINT, *arguments[3:]],
                            capture_output=True, text=True, env=environment(), timeout=900)
    assert failed.returncode == 2, failed.stderr[-3000:]
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1, failed.stderr[-3000:]
    assert lines[0].startswith(f"airtf-pretrain: error: {run_dir / 'checkpoints' / 'best.weights.h5'}: cannot "
                               "write (No space left on device); the disk is full")
    assert f"kept: the state after epoch 1 in {run_dir / 'backup'}, from which the same command resumes: " \
           "airtf-pretrain --objective den-add" in lines[0]
    assert committed_epochs(run_dir) == 1 and len((run_dir / "history.csv").read_text().splitlines()) == 2
    rerun = run_to_the_end(arguments)  # trains epoch 2 again from the state after epoch 1
    assert "resumed after epoch 1" in rerun.stdout
    assert_same_run(run_dir, uninterrupted[0])


@pytest.fixture
def small_disk(tmp_path):
    """A 3 GiB tmpfs (where this process may mount one; skipped elsewhere)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3g", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (not root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_disk_that_fills_during_training_names_the_file_and_the_resume_command(uninterrupted, nsynth_dir,
                                                                                  small_disk):
    run_dir = small_disk / "run"
    arguments = command(nsynth_dir, run_dir)
    first = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment())
    filler = small_disk / "filler"
    deadline = time.monotonic() + 600
    while committed_epochs(run_dir) < 1 and time.monotonic() < deadline:
        assert first.poll() is None, first.communicate()[1][-3000:]
        time.sleep(0.02)
    with open(filler, "wb") as stream:  # someone else fills the disk, leaving 50 MB
        free = subprocess.run(["df", "--output=avail", "-B1", str(small_disk)], capture_output=True,
                              text=True).stdout.split()[-1]
        stream.truncate(0)
        block = b"\0" * (1 << 20)
        for _ in range(max(0, int(free) - (50 << 20)) >> 20):
            stream.write(block)
    out, err = first.communicate(timeout=600)
    assert first.returncode == 2, err[-3000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
    assert lines[0].startswith(f"airtf-pretrain: error: {run_dir}/") and "cannot write (No space left on device)" \
        in lines[0]
    assert lines[0].endswith(" ".join(["airtf-pretrain", *arguments[3:]]))
    assert f"kept: the state after epoch 1 in {run_dir / 'backup'}" in lines[0]
    filler.unlink()
    run_to_the_end(arguments)
    assert_same_run(run_dir, uninterrupted[0])


def test_the_plan_of_a_rerun_counts_only_what_it_still_needs(nsynth_dir, tmp_path):
    from airtf import vggish
    from airtf.pretrain import objectives, training
    from airtf.runs import backup, run_directory

    chosen = objectives.get("den-add")
    data = chosen.datasets(nsynth_dir, batch_size=4, seed=0, limit=16)
    model = training.build_model(chosen, data, vggish.WeightsSource.parse("random", None, 0), 0, 1e-4)
    fresh = training.disk_needs(model, EPOCHS)
    run = run_directory.Run(tmp_path / "run")  # an interrupted run holding both backup slots and a best checkpoint
    run.backup.mkdir(parents=True)
    run.best_weights.parent.mkdir()
    for path, size in [*((run.backup / slot, fresh["resume backup"] // 2) for slot in backup.SLOTS),
                       (run.best_weights, fresh["checkpoints"] // 2)]:
        with open(path, "wb") as stream:
            stream.truncate(size)
    needed = training.disk_needs(model, EPOCHS, run)
    assert needed["resume backup"] == 0 and needed["checkpoints"] == fresh["checkpoints"] // 2
    assert needed["backbone"] == fresh["backbone"] > 0


def test_history_and_checkpoints_agree_after_a_settle(tmp_path):
    """An unfinished epoch's row and staged checkpoint go; a committed epoch's staged file moves into place."""
    from airtf.runs import backup

    folder, history = tmp_path / "backup", tmp_path / "history.csv"
    folder.mkdir()
    history.write_text("epoch,loss\n0,1.0\n1,0.5\n2,0.2")  # epoch 2 unfinished, its row cut mid-way
    (folder / "staged-1-best.weights.h5").write_bytes(b"epoch 1")
    (folder / "staged-2-best.weights.h5").write_bytes(b"epoch 2, never committed")
    (folder / backup.STATE_NAME).write_text(json.dumps({"epoch": 2, "staged": {
        "staged-1-best.weights.h5": str(tmp_path / "best.weights.h5")}}))
    assert backup.settle(folder, history) == 2
    assert history.read_text() == "epoch,loss\n0,1.0\n1,0.5\n"
    assert (tmp_path / "best.weights.h5").read_bytes() == b"epoch 1"
    assert sorted(path.name for path in folder.iterdir()) == [backup.STATE_NAME]
