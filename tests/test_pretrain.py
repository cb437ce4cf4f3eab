"""airtf-pretrain: run directory, TensorBoard logs, resume after kill -9, NaN, distribution, bad input.

The real VGGish (72M parameters) trains here on a few demo notes in small
batches. Runs that need a fresh TensorFlow (two logical CPU devices for
MirroredStrategy, MultiWorkerMirroredStrategy, a process to kill) are
subprocesses; the mirrored one also serves the tests that read a finished
run directory.
"""

import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from airtf import vggish
from airtf.cli import extract as extract_cli, pretrain as pretrain_cli
from airtf.datasets import nsynth
from airtf.pretrain import training
from airtf.runs import run_directory

REPOSITORY = Path(__file__).resolve().parents[1]
TINY = ["--limit", "16", "--batch-size", "8"]
WORD_MAP = ["--word-map", "multiphonic=polyphonic"]  # en_core_web_md has no vector for "multiphonic"

MIRRORED_MAIN = textwrap.dedent("""
    import sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from airtf.cli import pretrain
    sys.exit(pretrain.main(sys.argv[1:]))
""")


def environment(**variables):
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPOSITORY), **variables}


@pytest.fixture(scope="module")
def mirrored_run(nsynth_dir, tmp_path_factory):
    """One epoch of textual under MirroredStrategy over two logical CPU devices, by the command: (run dir, stdout)."""
    run_dir = tmp_path_factory.mktemp("runs") / "mirrored"
    command = [sys.executable, "-c", MIRRORED_MAIN, "--objective", "textual", *TINY, *WORD_MAP,
               "--data", str(nsynth_dir), "--out", str(run_dir), "--epochs", "1", "--strategy", "mirrored"]
    done = subprocess.run(command, capture_output=True, text=True, env=environment(), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    yield run_dir, done.stdout
    shutil.rmtree(run_dir)


@pytest.fixture
def run_dir(tmp_path):
    """A run directory, removed after the test (a run writes gigabytes of checkpoints)."""
    yield tmp_path / "run"
    shutil.rmtree(tmp_path / "run", ignore_errors=True)


def history_rows(run_dir):
    with open(Path(run_dir) / "history.csv", newline="") as stream:
        return list(csv.DictReader(stream))


def run_command(arguments):
    """airtf-pretrain's exit code (argparse exits by SystemExit)."""
    try:
        return pretrain_cli.main(arguments)
    except SystemExit as exit:
        return exit.code


def error_lines(capsys):
    captured = capsys.readouterr()
    return [line for line in captured.err.splitlines() if line.strip()]


@pytest.mark.slow
def test_mirrored_run_trains_on_two_replicas_and_prints_a_summary(mirrored_run):
    run_dir, stdout = mirrored_run
    assert [row["epoch"] for row in history_rows(run_dir)] == ["0"]
    summary = stdout.strip().splitlines()[-1]
    assert summary.startswith("textual: best val_loss ")
    assert "at epoch 1 of 1, 2 replicas; backbone: " in summary and summary.endswith(str(run_dir / "vggish.weights.h5"))


@pytest.mark.slow
def test_config_holds_everything_to_rerun(mirrored_run, nsynth_dir):
    run_dir, _ = mirrored_run
    config = json.loads((run_dir / "config.json").read_text())
    assert config == {
        "command": "airtf-pretrain", "objective": "textual", "data": str(nsynth_dir.resolve()), "epochs": 1,
        "batch_size": 8, "lr": 1e-4, "patience": 5, "limit": 16, "seed": 0, "weights": "random", "variant": "audioset-2017",
        "strategy": "mirrored", "versions": training.versions(),
        "options": {"word_vectors": "en_core_web_md", "word_map": {"multiphonic": "polyphonic"}, "margin": 0.5,
                    "examples": "first"}, "deterministic": False,
    }
    assert set(config["versions"]) == {"python", "airtf", "tensorflow", "keras", "numpy", "tensorboard"}


def read_events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return events


@pytest.mark.slow
def test_tensorboard_logs_hold_losses_histograms_descriptions_and_projector(mirrored_run, nsynth_dir):
    import tensorflow as tf

    logs = mirrored_run[0] / "logs"
    assert sorted(path.name for path in logs.iterdir()) == ["train", "validation"]
    for split in ("train", "validation"):
        losses = read_events(logs / split).Tensors("loss")
        assert [event.step for event in losses] == [0]
        assert all(np.isfinite(tf.make_ndarray(event.tensor_proto)) for event in losses)
    histograms = read_events(logs / "train")
    kernel = histograms.Tensors("fc1_1/kernel/histogram")
    assert [event.step for event in kernel] == [0]
    buckets = tf.make_ndarray(kernel[0].tensor_proto)
    assert buckets.shape == (30, 3) and buckets[:, 2].sum() == 12288 * 4096
    assert histograms.summary_metadata["fc1_1/kernel/histogram"].plugin_data.plugin_name == "histograms"
    descriptions = read_events(logs / "validation").Tensors("nearest_descriptions")
    assert [event.step for event in descriptions] == [0]
    assert "| validation note | its qualities | nearest descriptions |" in tf.make_ndarray(
        descriptions[0].tensor_proto).item().decode()

    config = (logs / "validation" / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "textual VGGish embeddings of 16 NSynth validation examples"' in config
    assert 'tensor_path: "embeddings.tsv"' in config and 'metadata_path: "metadata.tsv"' in config
    embeddings = np.loadtxt(logs / "validation" / "embeddings.tsv", delimiter="\t")
    header, *rows = [line.split("\t") for line in (logs / "validation" / "metadata.tsv").read_text().splitlines()]
    assert header == ["family", "instrument", "source", "qualities", "note"]
    assert embeddings.shape == (16, 128) and len(rows) == 16 and {row[0] for row in rows} <= set(nsynth.FAMILIES)
    notes = nsynth.read_notes(nsynth_dir / "nsynth-valid" / "examples.json")
    assert [row[4] for row in rows] == list(notes["note_str"][:16])


@pytest.mark.slow
def test_saved_backbone_extracts_the_projected_embeddings(mirrored_run, nsynth_dir, tmp_path):
    """airtf-extract --weights RUN_DIR embeds the first validation note as the projector shows it."""
    run_dir, _ = mirrored_run
    first_note = nsynth.read_notes(nsynth_dir / "nsynth-valid" / "examples.json", limit=1)["note_str"][0]
    wav = nsynth_dir / "nsynth-valid" / "audio" / f"{first_note}.wav"
    assert extract_cli.main([str(wav), "--out", str(tmp_path), "--weights", str(run_dir), "--quiet"]) == 0
    extracted = np.asarray(json.loads((tmp_path / "embedding" / f"{first_note}.json").read_text())["features"])
    projected = np.loadtxt(run_dir / "logs" / "validation" / "embeddings.tsv", delimiter="\t")
    assert extracted.shape == (4, 128)
    np.testing.assert_allclose(extracted[0], projected[0], rtol=1e-4, atol=1e-5)


def free_port():
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def committed_epochs(run_dir):
    """Epochs the run's backup holds (see airtf.runs.backup), 0 before the first commit."""
    try:
        return json.loads((Path(run_dir) / "backup" / "state.json").read_text())["epoch"]
    except (OSError, ValueError):
        return 0


def wait_for_first_epoch(run_dir, process, timeout=240):
    """Poll until epoch 1 is committed: its last callback (the commit, after den-add's images) done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-3000:]
        if committed_epochs(run_dir) >= 1:
            return
        time.sleep(0.05)
    raise AssertionError(f"epoch 1 did not finish in {timeout} s")


@pytest.mark.slow
def test_kill_9_then_the_same_command_continues_under_multi_worker(nsynth_dir, run_dir):
    """SIGKILL during epoch 2 of 2; the rerun trains epoch 2 only and keeps epoch 1's row.

    The command runs under MultiWorkerMirroredStrategy with a single-worker TF_CONFIG, which also
    tests that strategy. The kill follows epoch 1's last callback, into epoch 2's 16 batches of 2 notes.
    """
    command = [sys.executable, "-m", "airtf.cli.pretrain", "--objective", "den-add", "--data", str(nsynth_dir),
               "--out", str(run_dir), "--limit", "32", "--batch-size", "2", "--epochs", "2",
               "--strategy", "multi-worker"]
    tf_config = json.dumps({"cluster": {"worker": [f"localhost:{free_port()}"]}, "task": {"type": "worker", "index": 0}})
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=environment(TF_CONFIG=tf_config))
    try:
        wait_for_first_epoch(run_dir, first)
        first.send_signal(signal.SIGKILL)
    finally:
        first.kill()
        first.communicate()
    before = history_rows(run_dir)
    assert len(before) == 1 and (run_dir / "backup").is_dir() and not (run_dir / "vggish.weights.h5").exists()

    tf_config = json.dumps({"cluster": {"worker": [f"localhost:{free_port()}"]}, "task": {"type": "worker", "index": 0}})
    rerun = subprocess.run(command, capture_output=True, text=True, env=environment(TF_CONFIG=tf_config), timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "Epoch 1/2" not in rerun.stdout and "Epoch 2/2" in rerun.stdout
    after = history_rows(run_dir)
    assert [row["epoch"] for row in after] == ["0", "1"] and after[0] == before[0]
    assert "resumed after epoch 1" in rerun.stdout.strip().splitlines()[-1]
    assert (run_dir / "vggish.weights.h5").is_file() and not (run_dir / "backup").exists()
    assert (run_dir / "logs" / "validation" / "projector_config.pbtxt").is_file()
    images = read_events(run_dir / "logs" / "validation")  # one event file per process, both read
    figures = [tag for tag in images.Tags()["tensors"] if tag.startswith("reconstruction/")]
    assert len(figures) == 4  # the figure of each shown note, at both epochs: one before the kill, one after
    for tag in figures:
        assert [event.step for event in images.Tensors(tag)] == [0, 1]


def model_weights_finite(path):
    """Whether every weight of the model in a Keras .weights.h5 file is finite (the optimizer's state aside)."""
    arrays = []
    with h5py.File(path, "r") as weights_file:
        for name in set(weights_file) - {"optimizer"}:
            weights_file[name].visititems(
                lambda _, item: arrays.append(item[()]) if isinstance(item, h5py.Dataset) else None)
    return bool(arrays) and all(np.isfinite(array).all() for array in arrays)


@pytest.mark.slow
def test_a_diverging_loss_stops_with_one_line_keeping_good_weights(nsynth_dir, run_dir, capsys):
    code = pretrain_cli.main(["--objective", "den-add", *TINY, "--data", str(nsynth_dir), "--out", str(run_dir),
                              "--epochs", "3", "--lr", "1e30"])
    lines = error_lines(capsys)
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"airtf-pretrain: error: {run_dir}: the loss became ")
    assert "last good weights were kept" in lines[0]
    assert model_weights_finite(run_dir / "checkpoints" / "last.weights.h5")
    assert not (run_dir / "vggish.weights.h5").exists()


@pytest.mark.parametrize("arguments, message", [
    (["--objective", "den-add", "--data", "{missing}"], "no such data folder"),
    (["--objective", "denoise", "--data", "{data}"], "argument --objective: invalid choice: 'denoise'"),
    (["--objective", "den-add", "--data", "{data}", "--word-map", "multiphonic=polyphonic"],
     "the den-add objective takes no option --word-map; its options are --stddev, --examples, --cache-dir"),
    (["--objective", "den-add", "--data", "{data}", "--weights", "audioset-2017", "--variant", "audioset-2020"],
     "--weights audioset-2017 is the audioset-2017 variant; leave out --variant audioset-2020"),
    (["--objective", "textual", "--data", "{data}", "--weights", "official"], "official VGGish weights are not on disk"),
])
def test_bad_input_gives_one_line(arguments, message, nsynth_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AIRTF_MODELS", str(tmp_path / "no-models"))
    paths = {"missing": str(tmp_path / "missing"), "data": str(nsynth_dir)}
    code = run_command([argument.format(**paths) for argument in arguments] + ["--out", str(tmp_path / "run")])
    lines = error_lines(capsys)
    assert code == 2 and len(lines) == 1 and message in lines[0], lines


@pytest.mark.slow
def test_a_run_dir_is_not_reused_for_another_config_or_trained_again(mirrored_run, nsynth_dir, capsys):
    run_dir, _ = mirrored_run
    same = ["--objective", "textual", *TINY, *WORD_MAP, "--data", str(nsynth_dir), "--out", str(run_dir),
            "--epochs", "1", "--strategy", "mirrored"]
    assert pretrain_cli.main([*same, "--lr", "0.1"]) == 2
    assert pretrain_cli.main(same) == 2
    other, ended = error_lines(capsys)
    assert other == (f"airtf-pretrain: error: {run_dir}: holds a run with a different configuration (lr differ); "
                     "choose another --out, or pass --overwrite to replace it")
    assert ended.startswith(f"airtf-pretrain: error: {run_dir}: holds a run that ended after 1 epoch(s)")
    assert "--overwrite" in ended
    assert vggish.WeightsSource.parse(run_dir).path == (run_dir / "vggish.weights.h5").resolve()


@pytest.mark.slow
def test_align_keeps_its_vocabulary_and_labels_the_projector_by_tag(freesound_dir, run_dir):
    from airtf.datasets import freesound

    settings = training.Settings("align", freesound_dir, epochs=1, batch_size=8, limit=24,
                                 options={"vocabulary_size": 50})
    result = training.train(settings, run_dir, verbose=0)
    vocabulary = freesound.Vocabulary.load(run_dir / "vocabulary.json")
    assert 0 < len(vocabulary) <= 50 and result.epochs == 1 and result.backbone.is_file()
    header, *rows = [line.split("\t") for line in
                     (run_dir / "logs" / "validation" / "metadata.tsv").read_text().splitlines()]
    assert header == ["tag", "tags"] and rows and {row[0] for row in rows} <= set(vocabulary.tags)
    assert all(row[0] in row[1].split(", ") for row in rows)
    validation = read_events(run_dir / "logs" / "validation")
    assert {"loss", "retrieval_accuracy", "contrastive_loss"} <= set(validation.Tags()["tensors"])


def test_overwrite_clears_an_earlier_run_and_keeps_other_files(tmp_path):
    run_dir = tmp_path / "run"
    training.open_run(run_dir, {"lr": 1.0})
    (run_dir / "history.csv").write_text("epoch,loss,val_loss\n0,1.0,1.0\n")
    for made in ("logs/train", "checkpoints"):
        (run_dir / made).mkdir(parents=True)
    (run_dir / "vggish.weights.h5").write_bytes(b"")
    (run_dir / "notes.txt").write_text("mine")
    with pytest.raises(training.PretrainError, match="ended after 1 epoch.*--overwrite"):
        training.open_run(run_dir, {"lr": 1.0})
    (run_dir / "backup").mkdir()  # an unfinished run resumes instead
    assert training.open_run(run_dir, {"lr": 1.0}).resuming
    training.open_run(run_dir, {"lr": 2.0}, overwrite=True)
    assert sorted(path.name for path in run_dir.iterdir()) == ["config.json", "notes.txt"]


def test_histogram_buckets_match_tensorboards_own():
    from tensorboard.plugins.histogram.summary_v2 import _buckets

    values = np.random.default_rng(0).normal(size=(50, 7)).astype(np.float32)
    for sample in (values, np.full(9, 0.25, np.float32)):
        np.testing.assert_allclose(run_directory.histogram_buckets(sample), _buckets(sample, 30).numpy(), rtol=1e-6)


def test_early_stopping_carries_on_after_a_resume(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text("epoch,val_loss\n0,3.0\n1,1.5\n2,nan\n3,2.0\n")
    stopping = run_directory.ResumableEarlyStopping(history, patience=5)
    stopping.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    stopping.on_train_begin()
    assert (stopping.best, stopping.best_epoch, stopping.wait) == (1.5, 1, 2)


@pytest.mark.slow
def test_dry_run_plans_from_a_few_timed_steps_and_writes_nothing(nsynth_dir, run_dir, capsys):
    assert pretrain_cli.main(["--objective", "den-add", *TINY, "--data", str(nsynth_dir), "--out", str(run_dir),
                              "--epochs", "4", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    notes = nsynth.count_notes(nsynth_dir, "train", 16)[0], nsynth.count_notes(nsynth_dir, "valid", 16)[0]
    assert f"{notes[0]:,} training and {notes[1]:,} validation examples per epoch" in printed
    assert "at most 4 epochs" in printed and "s per training step" in printed and "time: about" in printed
    assert "checkpoints" in printed and "fits" in printed
    assert not run_dir.exists()


def test_a_run_the_disk_cannot_hold_is_refused_before_training(nsynth_dir, run_dir, capsys, monkeypatch):
    from airtf.support import files

    monkeypatch.setattr(files.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 10**6})())
    code = pretrain_cli.main(["--objective", "den-add", *TINY, "--data", str(nsynth_dir), "--out", str(run_dir)])
    lines = error_lines(capsys)
    assert code == 2 and len(lines) == 1 and "the run writes about" in lines[0] and "1.0 MB free" in lines[0]
    assert not (run_dir / "checkpoints").exists() and not (run_dir / "history.csv").exists()


@pytest.fixture(scope="module")
def tfrecord_nsynth(nsynth_dir, tmp_path_factory):
    """The demo NSynth as the TFRecord release is laid out: train and valid as folders of three shards."""
    import soundfile

    from test_nsynth import sharded_split

    root = tmp_path_factory.mktemp("tfrecord")
    for split in ("train", "valid"):
        notes = json.loads((nsynth_dir / f"nsynth-{split}" / "examples.json").read_text())
        sharded_split(root, [(fields, soundfile.read(nsynth_dir / f"nsynth-{split}" / "audio" / f"{name}.wav",
                                                     dtype="float32")[0]) for name, fields in notes.items()],
                      split=split)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["truncated", "crc", "no audio"])
def test_a_bad_record_in_the_middle_of_a_shard_stops_pretraining_in_one_line(kind, tfrecord_nsynth, tmp_path,
                                                                            capsys):
    from test_nsynth import BAD_RECORDS, corrupt

    data = tmp_path / "nsynth"
    shutil.copytree(tfrecord_nsynth, data)
    shard = sorted((data / "nsynth-train.tfrecord").iterdir())[1]
    corrupt(shard, kind)
    code = pretrain_cli.main(["--objective", "den-add", "--data", str(data), "--out", str(tmp_path / "run"),
                              "--limit", "12", "--batch-size", "4", "--epochs", "1"])
    lines = error_lines(capsys)
    assert code == 2 and len(lines) == 1, lines
    assert re.match(f"airtf-pretrain: error: {re.escape(str(shard))}: {BAD_RECORDS[kind]}", lines[0]), lines[0]
    assert lines[0].endswith("rerun the same command once the data is mended")


def test_an_examples_json_nested_deeper_than_any_release_stops_pretraining_in_one_line(tmp_path, capsys):
    for split in ("train", "valid"):
        (tmp_path / "nsynth" / f"nsynth-{split}").mkdir(parents=True)
        (tmp_path / "nsynth" / f"nsynth-{split}" / "examples.json").write_text("[" * 200_000 + "]" * 200_000)
    code = pretrain_cli.main(["--objective", "den-add", "--data", str(tmp_path / "nsynth"), "--out",
                              str(tmp_path / "run")])
    lines = error_lines(capsys)
    assert code == 2 and len(lines) == 1, lines
    assert "nsynth-train/examples.json: JSON nested far deeper than any released file" in lines[0]
