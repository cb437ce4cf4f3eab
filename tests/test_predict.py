"""airtf-predict: present instruments, their active time ranges, terminal and JSON output."""

import contextlib
import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from airtf.cli import predict as predict_cli
from airtf.serve import export, predict
from test_export import FAVOURED, make_run, openmic_class_names


@pytest.mark.parametrize("mask, runs", [
    ([], []),
    ([0, 0, 0], []),
    ([1, 1, 1], [(0, 3)]),
    ([1, 0, 1, 0], [(0, 1), (2, 3)]),
    ([0, 1, 1, 0, 0, 1, 1, 1], [(1, 3), (5, 8)]),
])
def test_runs_of_true(mask, runs):
    assert predict.runs_of_true(mask) == runs


def test_active_ranges_merge_consecutive_frames():
    frames = [0.2, 0.7, 0.5, 0.1, 0.6, 0.4, 0.9]
    assert predict.active_ranges(frames, 0.96) == [[0.96, 2.88], [3.84, 4.8], [5.76, 6.72]]
    assert predict.active_ranges(frames, 0.96, threshold=0.65) == [[0.96, 1.92], [5.76, 6.72]]
    assert predict.active_ranges(frames, 0.01, threshold=0.95) == []


def test_active_ranges_closer_than_the_merge_gap_are_joined():
    flicker = [0.9] * 30 + [0.1] * 20 + [0.9] * 10 + [0.1] * 60 + [0.9] * 5  # 10 ms frames
    assert predict.active_ranges(flicker, 0.01) == [[0.0, 0.6], [1.2, 1.25]]  # a 0.2 s gap joined, 0.6 s not
    assert predict.active_ranges(flicker, 0.01, merge_gap=0.1) == [[0.0, 0.3], [0.5, 0.6], [1.2, 1.25]]
    assert predict.active_ranges([0.9, 0.1, 0.9], 0.96) == [[0.0, 0.96], [1.92, 2.88]]  # VGGish frames stay apart


def test_active_ranges_end_with_the_audio():
    assert predict.active_ranges([0.9], 0.96, duration=0.5) == [[0.0, 0.5]]
    assert predict.active_ranges([0.9, 0.9, 0.1], 0.96, duration=10.0) == [[0.0, 1.92]]


class FixedModel:
    """A stand-in for a loaded model that returns fixed outputs."""

    class_names = ["bass", "drums", "mallet_percussion"]
    frame_hop_seconds = 0.96

    def __call__(self, waveform):
        return {"probabilities": np.array([0.55, 0.2, 0.9], np.float32),
                "frame_probabilities": np.array([[0.6, 0.3, 0.2], [0.2, 0.1, 0.95], [0.7, 0.2, 0.9]], np.float32)}


def test_predict_lists_present_instruments_most_probable_first():
    prediction = predict.predict(FixedModel(), np.zeros(48000, np.float32))
    assert list(prediction.instruments) == ["mallet_percussion", "bass"]
    assert prediction.instruments["bass"] == pytest.approx(0.55)
    assert prediction.active == {"mallet_percussion": [[0.96, 2.88]], "bass": [[0.0, 0.96], [1.92, 2.88]]}
    assert prediction.duration == 3.0


def test_text_output_is_aligned():
    prediction = predict.predict(FixedModel(), np.zeros(48000, np.float32))
    text = predict.format_text("a.wav", prediction, name_width=len("mallet_percussion"))
    assert text.splitlines() == ["a.wav (3.00 s)",
                                 "  mallet_percussion  0.900  0.96-2.88 s",
                                 "  bass               0.550  0.00-0.96, 1.92-2.88 s"]
    nothing = predict.predict(FixedModel(), np.zeros(100, np.float32), threshold=0.99)
    assert predict.format_text("b.wav", nothing).splitlines()[1] == ("  no instrument reaches 0.99 "
                                                                     "(the most probable: mallet_percussion, 0.900)")


def test_a_low_probability_never_prints_as_zero():
    assert predict.format_probability(0.00041) == "4.1e-04" and predict.format_probability(0.0123) == "0.012"
    assert predict.format_probability(0.0) == "0.000"


def test_json_output_holds_every_instrument_with_its_flag_and_ranges():
    document = json.loads(predict.to_json({"a.wav": predict.predict(FixedModel(), np.zeros(48000, np.float32))}))
    assert document == {"a.wav": {"duration": 3.0, "threshold": 0.5, "instruments": {
        "mallet_percussion": {"probability": 0.9, "present": True, "active": [[0.96, 2.88]]},
        "bass": {"probability": 0.55, "present": True, "active": [[0.0, 0.96], [1.92, 2.88]]},
        "drums": {"probability": 0.2, "present": False, "active": []}}}}
    assert list(document["a.wav"]["instruments"]) == ["mallet_percussion", "bass", "drums"]


@pytest.fixture(scope="module")
def models(shared_data, tmp_path_factory):
    """A logmel run directory and its export."""
    root = tmp_path_factory.mktemp("predict")
    run_dir = make_run(root / "run", "logmel", openmic_class_names(shared_data))
    return {"run": run_dir, "export": export.export(run_dir, root / "export").path}


RANGES = r"\d+\.\d\d-\d+\.\d\d(, \d+\.\d\d-\d+\.\d\d)* s"


def test_cli_prints_instruments_and_ranges_of_the_real_clip(models, openmic_clip, capsys):
    assert predict_cli.main([str(openmic_clip), "--model", str(models["export"])]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header == f"{openmic_clip} (10.00 s)"
    assert lines and {line.split()[0] for line in lines} <= set(FAVOURED)
    for line in lines:
        assert re.fullmatch(r"  [a-z_]+ +[01]\.\d\d\d  " + RANGES, line), line
    assert len({line.index(line.split()[1]) for line in lines}) == 1  # the probabilities line up


@pytest.fixture(scope="module")
def json_predictions(models, openmic_clip):
    """The --json document of the real clip from the run directory and from the export."""
    documents = {}
    for kind, model in models.items():
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            assert predict_cli.main([str(openmic_clip), "--model", str(model), "--json"]) == 0
        documents[kind] = json.loads(printed.getvalue())
    return documents


def test_cli_json_parses_with_instruments_and_ranges(json_predictions, openmic_clip):
    document = json_predictions["export"]
    assert list(document) == [str(openmic_clip)]
    clip = document[str(openmic_clip)]["instruments"]
    present = {name for name, entry in clip.items() if entry["present"]}
    assert present and present <= set(FAVOURED) and len(clip) == 20
    assert present == {name for name, entry in clip.items() if entry["probability"] >= 0.5}
    for name in present:
        assert clip[name]["active"] and all(0 <= start < end <= 10.0 for start, end in clip[name]["active"])
    assert not any(entry["active"] for name, entry in clip.items() if name not in present)


def test_run_directory_and_export_give_the_same_prediction(json_predictions, openmic_clip):
    from_run, from_export = (json_predictions[kind][str(openmic_clip)] for kind in ("run", "export"))
    for name, entry in from_run["instruments"].items():
        assert entry["active"] == from_export["instruments"][name]["active"]
        assert entry["probability"] == pytest.approx(from_export["instruments"][name]["probability"], abs=1e-4)


def test_cli_reports_bad_files_and_goes_on(models, openmic_clip, tmp_path, capsys):
    (tmp_path / "text.wav").write_text("not audio")
    sf.write(tmp_path / "short.wav", np.full(4000, 0.1, np.float32), 8000)
    files = [str(tmp_path / "missing.ogg"), str(openmic_clip), str(tmp_path / "text.wav"), str(tmp_path / "short.wav")]
    assert predict_cli.main([*files, "--model", str(models["run"]), "--quiet"]) == 1
    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    assert len(errors) == 4 and errors[-1] == "airtf-predict: 2 of 4 files failed"
    assert errors[0].startswith("airtf-predict: error: ") and "missing.ogg" in errors[0]
    assert errors[1].startswith("airtf-predict: error: ") and "text.wav" in errors[1]
    assert errors[2] == (f"airtf-predict: warning: {tmp_path / 'short.wav'}: 0.500 s is shorter than one example, "
                         "which needs 0.975 s (96 frames 10 ms apart, each 25 ms long); it was zero-padded to one")
    assert f"{openmic_clip} (10.00 s)" in captured.out and f"{tmp_path / 'short.wav'} (0.50 s)" in captured.out


def test_cli_names_a_model_that_is_neither(tmp_path, openmic_clip, capsys):
    assert predict_cli.main([str(openmic_clip), "--model", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"airtf-predict: error: {tmp_path}: neither an export directory nor a run "
                                       "directory; pass a directory written by airtf-export, or a run directory "
                                       "written by a finished airtf-eval\n")


def test_file_names_that_are_not_utf8_are_predicted_and_printed_escaped(models, openmic_clip, tmp_path, capfdbinary):
    named = tmp_path / os.fsdecode(b"caf\xe9.ogg")
    named.write_bytes(openmic_clip.read_bytes())
    broken = tmp_path / os.fsdecode(b"bad\xff.wav")
    broken.write_bytes(b"not audio")
    assert predict_cli.main([str(broken), str(named), "--model", str(models["export"]), "--quiet"]) == 1
    captured = capfdbinary.readouterr()
    out, err = captured.out.decode("utf-8"), captured.err.decode("utf-8")  # printable: no stray bytes
    assert "bad\\xff.wav: cannot decode" in err
    assert f"{tmp_path}/caf\\xe9.ogg (10.00 s)" in out  # the good file after the bad one was predicted
    assert predict_cli.main([str(named), "--model", str(models["export"]), "--json"]) == 0
    document = json.loads(capfdbinary.readouterr().out)
    assert list(document) == [str(named)]  # the JSON keeps the name: it opens the file again


@pytest.mark.slow
def test_names_in_an_ascii_locale_are_predicted(models, openmic_clip, tmp_path):
    named = tmp_path / "ä ö €.ogg"
    named.write_bytes(openmic_clip.read_bytes())
    result = subprocess.run([sys.executable, "-m", "airtf.cli.predict", str(named), "--model", str(models["export"])],
                            capture_output=True, env={**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode("ascii").startswith(str(tmp_path) + "/\\xe4 \\xf6 \\u20ac.ogg (10.00 s)")


@pytest.mark.slow
def test_json_members_are_written_as_files_are_predicted(models, openmic_clip, tmp_path):
    (tmp_path / "bad.wav").write_text("not audio")
    command = [sys.executable, "-m", "airtf.cli.predict", str(openmic_clip), str(tmp_path / "bad.wav"),
               str(openmic_clip), "--model", str(models["export"]), "--json"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert list(document) == [str(openmic_clip)]  # the name twice: one member (json keeps the last)
    assert result.stdout.count(json.dumps(str(openmic_clip))) == 2


def test_a_clip_whose_features_exceed_the_memory_read_again_for_each_pass_gives_the_same_scores(models, tmp_path):
    from airtf import audio

    model = export.load(models["export"])
    samples = np.random.default_rng(0).uniform(-0.5, 0.5, 16000 * 20).astype(np.float32)
    calls = []
    frame_features = model.frame_features
    model.frame_features = lambda segment: calls.append(len(segment)) or frame_features(segment)
    kept = predict.Clip(model, audio.waveform(samples, 16000), chunk_frames=300)
    streamed = predict.Clip(model, audio.waveform(samples, 16000), chunk_frames=300, memory_bytes=0)
    results = [predict.score(model, clip) for clip in (kept, streamed)]
    passes = model.statistics_layers + 1
    assert len(calls) == 1 + passes  # the kept clip computed its features once, the other once per pass
    np.testing.assert_array_equal(results[0][0], results[1][0])
    assert [results[0][1].ranges(index) for index in range(20)] == [results[1][1].ranges(index) for index in range(20)]
