"""Fault injection and abuse: each numbered trial of the reliability review, kept fixed.

Every command here is run as a user would (its main, or a subprocess) and must end with one line
on stderr, never a traceback; a crafted file must never run code; nothing a user owns is deleted.
"""

import errno
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import soundfile

from airtf import params
from airtf.classify import attention, evaluate
from airtf.cli import data as data_cli
from airtf.cli import eval as eval_cli
from airtf.cli import export as export_cli
from airtf.cli import extract as extract_cli
from airtf.cli import predict as predict_cli
from airtf.cli import pretrain as pretrain_cli
from airtf.cli import weights as weights_cli
from airtf.cli.common import reports_errors
from airtf.datasets import nsynth, openmic
from airtf.datasets.npz import read_arrays
from airtf.datasets.pipeline import DatasetError
from airtf.runs import layout, run_directory
from airtf.serve import export, predict
from airtf.support import files, interrupts
from test_export import make_run, openmic_class_names
from test_openmic import TRAIN_KEYS, write_release

TONE_SECONDS = 2.0


def one_error_line(capsys, program):
    """The single stderr line of a command that failed cleanly."""
    error = capsys.readouterr().err
    assert "Traceback" not in error, error
    lines = [line for line in error.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{program}: error: "), error
    return lines[0]


def write_tone(path, seconds=TONE_SECONDS, sample_rate=16000):
    time_axis = np.arange(int(seconds * sample_rate)) / sample_rate
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * 440 * time_axis)).astype(np.float32), sample_rate)
    return path


def temporaries(folder):
    return sorted(path.name for path in Path(folder).rglob(".airtf-*"))


# ---------------------------------------------------------------- 1. code in an openmic-2018.npz

class Payload:
    """Unpickling this would create the file its argument names."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def crafted_release(root, payload_target):
    """A release whose npz's sample_key object array holds a payload among the keys."""
    write_release(root, clips={})
    arrays = read_arrays(root / "openmic-2018.npz", "written by this test")
    keys = arrays["sample_key"].copy()
    keys[0] = Payload(payload_target)
    np.savez(root / "openmic-2018.npz", **{**arrays, "sample_key": keys})
    return root


def test_a_crafted_npz_runs_no_code_and_names_the_file(tmp_path, capsys):
    target = tmp_path / "pwned"
    root = crafted_release(tmp_path / "openmic", target)
    with pytest.raises(DatasetError, match=r"openmic-2018.npz: array 'sample_key' is refused \(it names "):
        openmic.OpenMIC(root).labels()
    assert data_cli.main(["check", "--openmic", str(root)]) == 1
    assert "openmic-2018.npz: array 'sample_key' is refused" in capsys.readouterr().out
    assert eval_cli.main(["--features", "pca", "--data", str(root), "--out", str(tmp_path / "run")]) == 2
    one_error_line(capsys, "airtf-eval")
    assert not target.exists()
    pickle.loads(pickle.dumps(Payload(target))).close()  # the payload is real: unpickled freely, it runs
    assert target.exists()


def test_the_release_object_array_of_str_still_loads(tmp_path):
    root = write_release(tmp_path / "openmic", clips={})
    with np.load(root / "openmic-2018.npz") as stored:
        with pytest.raises(ValueError, match="allow_pickle"):
            stored["sample_key"]  # as released: an object array that NumPy reads only with pickle
    labels = openmic.OpenMIC(root).labels()
    assert list(labels.sample_key[:2]) == sorted(labels.sample_key)[:2] and labels.sample_key.dtype.kind == "U"


@pytest.mark.parametrize("content", [[b"000001_0", b"000002_0"], [1, 2]])
def test_object_arrays_hold_strings_only(tmp_path, content):
    root = write_release(tmp_path / "openmic", keys=["000001_0", "000002_0"], clips={})
    arrays = read_arrays(root / "openmic-2018.npz", "written by this test")
    np.savez(root / "openmic-2018.npz", **{**arrays, "sample_key": np.array(content, dtype=object)})
    dataset = openmic.OpenMIC(root)
    if isinstance(content[0], bytes):
        assert list(dataset.labels().sample_key) == ["000001_0", "000002_0"]
    else:
        with pytest.raises(DatasetError, match="holds a int where only strings belong"):
            dataset.labels()


# ---------------------------------------------------------------- 2. the export guard

@pytest.fixture(scope="module")
def class_names(shared_data):
    return openmic_class_names(shared_data)


def test_export_overwrite_never_replaces_a_folder_of_user_files(class_names, tmp_path, capsys):
    run_dir = make_run(tmp_path / "run", "logmel", class_names)
    mine = tmp_path / "mine"
    (mine / "deep").mkdir(parents=True)
    (mine / "deep" / "thesis.tex").write_text("years of work")
    assert export_cli.main([str(run_dir), "--out", str(mine), "--overwrite"]) == 2
    assert "holds files that airtf-export did not write (no airtf-export.json)" in one_error_line(
        capsys, "airtf-export")
    assert (mine / "deep" / "thesis.tex").read_text() == "years of work"
    assert sorted(os.listdir(tmp_path)) == ["mine", "run"]


@pytest.mark.parametrize("out, relation", [(".", "is the current folder"), ("..", "holds the current folder"),
                                           ("{tmp}/a/run", "is the run directory"),
                                           ("{tmp}/a", "holds the run directory")])
def test_export_refuses_the_current_folder_and_the_run_directory(class_names, tmp_path, monkeypatch, capsys,
                                                                  out, relation):
    run_dir = make_run(tmp_path / "a" / "run", "logmel", class_names)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    before = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*"))
    assert export_cli.main([str(run_dir), "--out", out.format(tmp=tmp_path), "--overwrite"]) == 2
    assert relation in one_error_line(capsys, "airtf-export")
    assert sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*")) == before


# ---------------------------------------------------------------- 3. keys that are paths

@pytest.mark.parametrize("where", ["partition", "labels", "npz", "split"])
def test_keys_that_leave_the_data_root_are_refused(tmp_path, where):
    root = write_release(tmp_path / "openmic", clips={}, npz=where == "npz")
    evil = "../../etc/passwd"
    if where == "partition":
        path = root / "partitions" / "split01_train.csv"
        path.write_text(f"{TRAIN_KEYS[0]}\n{evil}\n")
        expected, attribute = f"{path}, line 2: '{evil}' is not an OpenMIC-2018 sample key", "draw_split"
    elif where == "labels":
        path = root / openmic.AGGREGATED_LABELS
        path.write_text(f"sample_key,instrument,relevance,num_responses\n{evil},piano,1,3\n")
        expected, attribute = f"{path}, line 2: '{evil}' is not", "labels"
    elif where == "npz":
        arrays = read_arrays(root / openmic.RELEASE_NPZ, "written by this test")
        arrays["sample_key"][3] = evil
        np.savez(root / openmic.RELEASE_NPZ, **arrays)
        expected, attribute = f"openmic-2018.npz, sample_key[3]: '{evil}' is not", "labels"
    else:
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / openmic.SPLIT_NAME).write_text(json.dumps(
            {"train": [TRAIN_KEYS[0]], "validation": [evil], "test": []}))
        with pytest.raises(DatasetError, match=r"split.json, validation\[0\]: '\.\./\.\./etc/passwd' is not"):
            openmic.read_split(tmp_path / "run")
        return
    with pytest.raises(DatasetError, match=re.escape(expected)):
        getattr(openmic.OpenMIC(root), attribute)()


def test_nsynth_note_names_that_are_paths_are_refused(tmp_path):
    split = tmp_path / "nsynth-valid"
    split.mkdir()
    fields = {"pitch": 60, "velocity": 100, "instrument_family": 0, "instrument_source": 0, "instrument": 0,
              "qualities": [0] * 10}
    (split / "examples.json").write_text(json.dumps({"../../secret": fields}))
    with pytest.raises(DatasetError, match="note '../../secret' is not an NSynth note_str"):
        nsynth.read_notes(split / "examples.json")


# ---------------------------------------------------------------- 4. temporary files

def test_a_planted_link_at_the_temporary_name_is_never_followed(tmp_path, monkeypatch):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    tokens = iter(["0000aaaa", "1111bbbb"])
    monkeypatch.setattr(files.secrets, "token_hex", lambda size: next(tokens))
    planted = out / f".airtf-partial.{files._HOST}.{os.getpid()}.0000aaaa.x.json"
    planted.symlink_to(victim)
    files.write_json(out / "x.json", {"a": 1})
    assert victim.read_text() == "precious" and json.loads((out / "x.json").read_text()) == {"a": 1}


KILLED_WRITER = """
import sys, time
from airtf.support import files
with files.atomic_path(sys.argv[1]) as temporary:
    temporary.write_text("half")
    print("writing", flush=True)
    time.sleep(60)
"""


def test_temporaries_left_by_kill_9_go_at_the_next_write_and_nothing_else(tmp_path):
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(out / "a.json")], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout.readline() == "writing\n"
    process.kill()
    process.wait()
    left = temporaries(out)
    assert len(left) == 1 and left[0].endswith(f".{process.pid}.{left[0].split('.')[4]}.a.json")
    alive = out / f".airtf-partial.{files._HOST}.{os.getppid()}.00000000.b.json"  # a live process's
    other_host = out / f".airtf-partial.00000000.{process.pid}.00000000.c.json"
    for keep in (alive, other_host, out / "mine.partial.json"):
        keep.write_text("keep")
    files.write_json(out / "d.json", [])
    assert temporaries(out) == sorted([alive.name, other_host.name])
    assert (out / "mine.partial.json").exists() and not (out / "a.json").exists()


# ---------------------------------------------------------------- 6. write errors

@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs (where this process may mount one; skipped elsewhere)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (not root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder on a read-only bind mount, holding one earlier output (skipped where it cannot be made)."""
    source, mount = tmp_path / "source", tmp_path / "read-only"
    (source / "embedding").mkdir(parents=True)
    (source / "embedding" / "old.json").write_text("{}")
    mount.mkdir()
    made = subprocess.run(["mount", "--bind", str(source), str(mount)], capture_output=True).returncode == 0
    if not made or subprocess.run(["mount", "-o", "remount,bind,ro", str(mount)], capture_output=True).returncode:
        if made:
            subprocess.run(["umount", "-l", str(mount)])
        pytest.skip("cannot make a read-only bind mount here (not root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Eight 2 s tones (16 kHz WAV)."""
    folder = tmp_path_factory.mktemp("clips")
    for index in range(8):
        write_tone(folder / f"clip{index}.wav")
    return folder


def test_a_full_disk_mid_run_keeps_finished_outputs_and_leaves_no_partial_file(clips, tiny_disk, capsys):
    # 2 s of log-mel (2 examples of 96 x 64 floats) is ~250 kB of JSON: a few fit in 1 MiB, not eight;
    # batches of 2 examples finish one file at a time
    code = extract_cli.main([str(clips), "--out", str(tiny_disk), "--output", "logmel", "--batch-size", "2",
                             "--quiet"])
    captured = capsys.readouterr()
    assert code == 1 and "Traceback" not in captured.err
    error, stopped = captured.err.strip().splitlines()
    assert error.startswith("airtf-extract: error: ") and "cannot write (No space left on device); the disk is " \
        "full: free space, or choose another output folder" in error
    written = sorted((tiny_disk / "logmel").iterdir())
    assert 0 < len(written) < 8 and temporaries(tiny_disk) == []
    assert captured.out.startswith(f"wrote {len(written)} files ")
    assert stopped == f"airtf-extract: stopped: {8 - len(written)} of 8 files not written, 0 failed"
    for path in written:
        assert len(json.loads(path.read_text())["features"]) == 2


def test_an_injected_enospc_is_one_line_for_every_writer(clips, tmp_path, monkeypatch, capsys):
    real_replace = os.replace

    def full(source, destination):
        if Path(destination).name == "clip3.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(destination))
        return real_replace(source, destination)

    monkeypatch.setattr(os, "replace", full)
    assert extract_cli.main([str(clips), "--out", str(tmp_path), "--output", "logmel", "--quiet"]) == 1
    error = capsys.readouterr().err.splitlines()[0]
    assert error == (f"airtf-extract: error: {tmp_path / 'logmel' / 'clip3.json'}: cannot write (No space left "
                     "on device); the disk is full: free space, or choose another output folder")
    assert (tmp_path / "logmel" / "clip2.json").is_file() and not (tmp_path / "logmel" / "clip3.json").exists()
    assert temporaries(tmp_path) == []


def test_a_read_only_folder_is_refused_before_any_computing(clips, read_only_folder, capsys, monkeypatch):
    from airtf.features import extract

    monkeypatch.setattr(extract, "make_extractor", lambda *args, **kwargs: pytest.fail("computed before checking"))
    assert extract_cli.main([str(clips), "--out", str(read_only_folder), "--weights", "random", "--quiet"]) == 2
    assert one_error_line(capsys, "airtf-extract") == (
        f"airtf-extract: error: {read_only_folder / 'embedding'}: cannot write (Read-only file system); the file "
        "system is read-only: choose another output folder")
    assert (read_only_folder / "embedding" / "old.json").read_text() == "{}"


def test_any_writer_turns_a_permission_error_into_one_line(tmp_path, monkeypatch, capsys):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path / "run"))

    monkeypatch.setattr(run_directory.Path, "mkdir", denied)
    command = ["--objective", "den-add", "--data", str(tmp_path), "--out", str(tmp_path / "run")]
    assert pretrain_cli.main(command) == 2
    assert "cannot write (Permission denied); permission denied: make the folder writable" in one_error_line(
        capsys, "airtf-pretrain")


# ---------------------------------------------------------------- 7. bounded memory, and streamed output

def test_streamed_logmel_json_is_byte_identical_to_the_whole_file(tmp_path):
    from airtf.features import extract
    from airtf.vggish import example_time_points

    clip = write_tone(tmp_path / "long.wav", seconds=9.3)
    jobs = [(clip, tmp_path / "streamed.json"), (clip, tmp_path / "streamed.npz")]
    extract.Extractor("logmel", batch_size=3, block_seconds=2.0).run(jobs)
    extract.Extractor("logmel", block_seconds=60.0).run([(clip, tmp_path / "whole.npz")])
    with np.load(tmp_path / "streamed.npz") as streamed, np.load(tmp_path / "whole.npz") as whole:
        features = streamed["features"]
        assert features.shape == (9, 96, 64) and features.dtype == np.float32
        np.testing.assert_allclose(features, whole["features"], atol=1e-5)
        assert streamed["time_points"].tolist() == example_time_points(9)
    files.write_json(tmp_path / "expected.json", {"time_points": example_time_points(9),
                                                  "features": features.tolist()})
    assert (tmp_path / "streamed.json").read_bytes() == (tmp_path / "expected.json").read_bytes()


def test_prediction_streams_the_file_in_segments(class_names, tmp_path, monkeypatch):
    run_dir = make_run(tmp_path / "run", "random", class_names)
    model = export.load(run_dir)
    clip = write_tone(tmp_path / "clip.wav", seconds=20.0)
    segments = []
    frame_features = model.frame_features
    monkeypatch.setattr(model, "frame_features", lambda segment: segments.append(len(segment))
                        or frame_features(segment))
    streamed = predict.predict_file(model, clip, block_seconds=4.0)
    assert max(segments) <= 5 * params.EXAMPLE_HOP_SAMPLES + params.EXAMPLE_SAMPLES and len(segments) >= 5
    monkeypatch.undo()
    from airtf import audio

    whole = predict.predict(model, audio.read(clip))
    assert streamed.active == whole.active and streamed.duration == whole.duration
    assert streamed.instruments == pytest.approx(whole.instruments, abs=2e-4)


@pytest.mark.parametrize("norm", ["group", "batch"])
def test_chunked_classification_equals_the_whole_clip(norm):
    keras.utils.set_random_seed(3)
    classifier = attention.AttentionClassifier(num_classes=5, norm=norm)
    classifier.build((None, None, 64))
    pipeline = export.Pipeline(keras.Sequential([keras.Input((None, 96, 64)), keras.layers.Reshape((-1, 64))]),
                               classifier, list("abcde"))
    features = np.random.default_rng(0).normal(size=(997, 64)).astype(np.float32)
    whole = {name: np.asarray(value)[0] for name, value in classifier.frame_outputs(features[None]).items()}
    chunked = predict.classify(pipeline, features, chunk_frames=100)
    for name, value in whole.items():
        np.testing.assert_allclose(chunked[name], value, rtol=1e-5, atol=1e-6, err_msg=name)


# ---------------------------------------------------------------- 8. Ctrl-C

def test_a_swallowed_interrupt_still_ends_the_command_with_130(capsys):
    @reports_errors("airtf-test")
    def main(argv=None):
        try:  # as a TensorFlow __del__ or callback would: the KeyboardInterrupt is lost
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)
        except KeyboardInterrupt:
            pass
        interrupts.raise_if_interrupted()
        return 0

    assert main([]) == 130
    assert capsys.readouterr().err == "airtf-test: interrupted; finished outputs are kept\n"


@pytest.mark.slow
def test_ctrl_c_during_extraction_exits_130_keeping_finished_outputs(tmp_path):
    inputs = tmp_path / "clips"
    inputs.mkdir()
    for index in range(40):
        write_tone(inputs / f"clip{index:02d}.wav", seconds=6.0)
    command = [sys.executable, "-m", "airtf.cli.extract", str(inputs), "--out", str(tmp_path / "out"),
               "--weights", "random", "--batch-size", "8", "--quiet"]
    for attempt in range(3):
        before = len(list((tmp_path / "out").rglob("*.json")))
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        deadline = time.monotonic() + 120
        while len(list((tmp_path / "out").rglob("*.json"))) == before and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2 * attempt)
        process.send_signal(signal.SIGINT)
        out, error = process.communicate(timeout=120)
        assert process.returncode == 130, (out, error)
        assert error.strip().splitlines()[-1] == "airtf-extract: interrupted; finished outputs are kept"
        assert "Traceback" not in error and temporaries(tmp_path / "out") == []
        for path in (tmp_path / "out" / "embedding").iterdir():
            assert len(json.loads(path.read_text())["features"]) == 6
    assert len(list((tmp_path / "out" / "embedding").iterdir())) < 40


# ---------------------------------------------------------------- 9. bad numbers

NUMERIC_TRIALS = [
    (extract_cli, ["a.wav", "--out", "o", "--batch-size", "0"], "--batch-size: 0 is not a finite number greater"),
    (extract_cli, ["a.wav", "--out", "o", "--batch-size", "-1"], "--batch-size: -1 is not"),
    (pretrain_cli, ["--lr", "nan"], "--lr: nan is not a finite number greater than 0"),
    (pretrain_cli, ["--lr", "0"], "--lr: 0 is not"),
    (pretrain_cli, ["--lr", "-1"], "--lr: -1 is not"),
    (pretrain_cli, ["--lr", "inf"], "--lr: inf is not"),
    (pretrain_cli, ["--patience", "-1"], "--patience: -1 is not a finite number of 0 or more"),
    (pretrain_cli, ["--margin", "2"], "--margin: 2 is not a finite number in [-1, 1)"),
    (pretrain_cli, ["--stddev", "0"], "--stddev: 0 is not"),
    (pretrain_cli, ["--temperature", "nan"], "--temperature: nan is not"),
    (pretrain_cli, ["--keep-probability", "0"], "--keep-probability: 0 is not a finite number in (0, 1]"),
    (pretrain_cli, ["--contrastive-weight", "-1"], "--contrastive-weight: -1 is not"),
    (eval_cli, ["--lr", "inf"], "--lr: inf is not"),
    (eval_cli, ["--epochs", "0"], "--epochs: 0 is not"),
    (predict_cli, ["a.wav", "--model", "m", "--threshold", "2"], "--threshold: 2 is not a finite number in [0, 1]"),
    (predict_cli, ["a.wav", "--model", "m", "--threshold", "-1"], "--threshold: -1 is not"),
    (predict_cli, ["a.wav", "--model", "m", "--threshold", "nan"], "--threshold: nan is not"),
    (data_cli, ["demo", "--out", "o", "--nsynth-notes", "1.5"], "--nsynth-notes: '1.5' is not an integer"),
]


@pytest.mark.parametrize("cli, arguments, message", NUMERIC_TRIALS, ids=lambda value: str(value)[:40])
def test_bad_numbers_are_refused_when_parsed(cli, arguments, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    required = {pretrain_cli: ["--objective", "den-add", "--data", ".", "--out", "run"],
                eval_cli: ["--features", "pca", "--data", ".", "--out", "run"]}.get(cli, [])
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*required, *arguments])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert message in error and "Traceback" not in error
    assert os.listdir(tmp_path) == []


def test_a_non_finite_validation_loss_is_never_the_best(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text("epoch,loss,val_loss\n0,1.0,inf\n1,0.9,nan\n2,0.8,-inf\n")
    assert run_directory.best_epoch(run_directory.read_history(history), "val_loss") is None
    keep = run_directory.KeepWeights(tmp_path / "best.weights.h5", monitor="val_loss", history=history)
    keep.on_epoch_end(3, {"val_loss": float("inf")})
    assert keep.best is None and not (tmp_path / "best.weights.h5").exists()


# ---------------------------------------------------------------- 10. damaged checkpoints and exports

@pytest.mark.slow
def test_a_truncated_v2_checkpoint_is_one_line(tmp_path, shared_data, capsys):
    import tf1_vggish

    examples = np.zeros((1, 96, 64), np.float32)
    tf1_vggish.write_checkpoint(tmp_path / "model.ckpt", examples, "V2")
    data = next(tmp_path.glob("model.ckpt.data-*"))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 3])
    clip = shared_data / "openmic" / "audio" / "000" / "000046_3840.ogg"
    assert extract_cli.main([str(clip), "--out", str(tmp_path / "out"), "--weights", str(tmp_path / "model.ckpt"),
                             "--quiet"]) == 2
    line = one_error_line(capsys, "airtf-extract")
    assert f"{tmp_path / 'model.ckpt'}: cannot read variable vggish/" in line and "truncated or damaged" in line
    assert weights_cli.main(["convert", str(tmp_path / "model.ckpt"), "--out", str(tmp_path / "x.weights.h5")]) == 2
    assert "truncated or damaged" in one_error_line(capsys, "airtf-weights")
    assert not (tmp_path / "x.weights.h5").exists()


def test_a_savedmodel_with_other_outputs_is_one_line(tmp_path, capsys):
    import tensorflow as tf

    module = tf.Module()
    module.serve = tf.function(lambda waveform: {"scores": waveform * 2},
                               input_signature=[tf.TensorSpec([None], tf.float32, name="waveform")])
    module.metadata = tf.function(lambda: {"class_names": tf.constant(["a"])}, input_signature=[])
    tf.saved_model.save(module, str(tmp_path / "model"), signatures={"serving_default": module.serve,
                                                                      "metadata": module.metadata})
    audio_file = write_tone(tmp_path / "a.wav")
    assert predict_cli.main([str(audio_file), "--model", str(tmp_path / "model")]) == 2
    assert "the serving_default signature lacks the output(s) attention, features, frame_probabilities" in \
        one_error_line(capsys, "airtf-predict")


# ---------------------------------------------------------------- 11. airtf-data check's exit status

def test_check_exits_1_on_problems_and_0_for_released_features_without_audio(tmp_path, capsys):
    released = write_release(tmp_path / "released", clips={})
    assert data_cli.main(["check", "--openmic", str(released)]) == 0
    out = capsys.readouterr().out
    assert f"OpenMIC-2018 at {released}: ok" in out
    assert "  released features: every clip (airtf-eval --features pca)" in out
    assert "  audio: 143 clips without (e.g. 000101_0), so not for airtf-eval --features norm" in out
    broken = write_release(tmp_path / "broken", clips={})
    (broken / "partitions" / "split01_test.csv").unlink()
    assert data_cli.main(["check", "--openmic", str(broken)]) == 1
    assert f"missing: {broken / 'partitions' / 'split01_test.csv'}" in capsys.readouterr().out


# ---------------------------------------------------------------- 12. export without the official checkpoint

@pytest.mark.slow
def test_a_pca_run_exports_with_other_weights_when_asked(class_names, tmp_path, shared_data, capsys):
    run_dir = make_run(tmp_path / "run", "random", class_names)
    spec = json.loads((run_dir / layout.FEATURE_SPEC_NAME).read_text())
    spec.update(kind="pca", weights="official", postprocess="pca", seed=None)
    (run_dir / layout.FEATURE_SPEC_NAME).write_text(json.dumps(spec))
    assert export_cli.main([str(run_dir), "--out", str(tmp_path / "export")]) == 2
    line = one_error_line(capsys, "airtf-export")
    assert "official VGGish weights are not on disk" in line and "--weights random" in line
    pca = shared_data / "vggish" / "vggish_pca_params.npz"
    assert export_cli.main([str(run_dir), "--out", str(tmp_path / "export"), "--weights", "random",
                            "--pca-params", str(pca)]) == 0
    error = capsys.readouterr().err
    assert error.startswith("airtf-export: warning: the classifier was trained on features of the official VGGish")
    assert (tmp_path / "export" / "saved_model.pb").is_file()


# ---------------------------------------------------------------- 13. sparse validation

def test_sparse_validation_warns_and_ties_go_to_the_lower_loss(tmp_path, monkeypatch):
    history = tmp_path / "history.csv"
    history.write_text("epoch,val_f1_macro,val_loss\n0,0.5,0.9\n1,0.5,0.4\n2,0.5,0.6\n3,0.3,0.1\n")
    assert evaluate.best_epoch(history) == 1
    keep = run_directory.KeepWeights(tmp_path / "best.weights.h5", monitor="val_f1_macro", mode="max",
                            tie_breaker="val_loss")
    keep.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    kept = []
    monkeypatch.setattr(run_directory, "save_model_weights", lambda model, path: kept.append(keep.best))
    for epoch, (f1, loss) in enumerate([(0.5, 0.9), (0.5, 0.4), (0.5, 0.6), (0.3, 0.1)]):
        keep.on_epoch_end(epoch, {"val_f1_macro": f1, "val_loss": loss})
    assert kept == [(-0.5, 0.9), (-0.5, 0.4)]


def test_a_validation_split_that_cannot_score_every_instrument_is_named(tmp_path):
    root = write_release(tmp_path / "openmic", clips={})
    dataset = openmic.OpenMIC(root)
    keys = dataset.partitions["train"][:12]
    with pytest.warns(evaluate.SparseValidationWarning,
                      match=r"the validation split \(12 clips\) scores \d+ of 20 instruments; .* lack a positive "
                            "or a negative annotation"):
        unscored = evaluate.check_scorable(dataset, keys, dataset.classes)
    assert 0 < len(unscored) < 20


# ---------------------------------------------------------------- 14. broken links

def test_broken_and_looping_links_are_counted_and_named(tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    write_tone(inputs / "real.wav")
    (inputs / "gone.wav").symlink_to(tmp_path / "deleted.wav")
    (inputs / "loop.wav").symlink_to(inputs / "loop.wav")
    assert extract_cli.main([str(inputs), "--out", str(tmp_path / "out"), "--output", "logmel", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"airtf-extract: warning: {inputs / name}: a broken symbolic link (its target is missing, or links loop); "
        "skipped" for name in ("gone.wav", "loop.wav")]
    assert captured.out.strip().endswith("; skipped 2 broken links")
