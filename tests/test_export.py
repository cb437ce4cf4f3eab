"""airtf-export: the SavedModel reloads in a fresh process and gives the Keras pipeline's numbers."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from airtf import params
from airtf.classify import attention
from airtf.cli import export as export_cli
from airtf.features import feature_sets
from airtf.runs import layout
from airtf.runs.run_directory import RunError
from airtf.serve import export

FEATURE_SIZES = {"logmel": params.NUM_MEL_BINS, "random": params.EMBEDDING_SIZE}
KINDS = tuple(FEATURE_SIZES)
FAVOURED = ("guitar", "voice")
WAVEFORM_SECONDS = {"ten_seconds": 10.0, "three_point_three": 3.3, "half_second": 0.5}


def openmic_class_names(shared_data):
    """OpenMIC-2018's 20 instruments in the order of its class map."""
    class_map = json.loads((shared_data / "openmic" / "class-map.json").read_text())
    return sorted(class_map, key=class_map.get)


def make_run(path, kind, class_names, favoured=FAVOURED):
    """A run directory as airtf-eval writes it, with an untrained classifier.

    The classifier's per-frame output is biased towards the ``favoured``
    instruments (+2) and against the others (-2), so that predictions name
    some instruments and not all.
    """
    keras.utils.set_random_seed(0)
    classifier = attention.AttentionClassifier(num_classes=len(class_names))
    classifier.build((None, None, FEATURE_SIZES[kind]))
    kernel, bias = classifier.classification.weights
    kernel.assign(kernel * 0.1)
    bias.assign(np.where(np.isin(class_names, favoured), 2.0, -2.0))
    path.mkdir(parents=True)
    classifier.save(path / layout.MODEL_NAME)
    (path / layout.FEATURE_SPEC_NAME).write_text(json.dumps(feature_sets.parse(kind).spec))
    (path / layout.CLASSES_NAME).write_text(json.dumps(list(class_names)))
    return path


def waveforms():
    """Noisy chords of 10 s, 3.3 s and 0.5 s (shorter than one example)."""
    rng = np.random.default_rng(7)
    result = {}
    for name, seconds in WAVEFORM_SECONDS.items():
        t = np.arange(int(seconds * params.SAMPLE_RATE)) / params.SAMPLE_RATE
        tone = sum(0.2 * np.sin(2 * np.pi * f * t) for f in rng.uniform(100, 3000, 3))
        result[name] = (tone + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    return result


FRESH_PROCESS = """
import sys
import numpy as np
import tensorflow as tf

inputs_path, outputs_path, *export_dirs = sys.argv[1:]
results = {}
for index, export_dir in enumerate(export_dirs):
    model = tf.saved_model.load(export_dir)
    serve = model.signatures["serving_default"]
    metadata = model.signatures["metadata"]()
    results[f"{index}/class_names"] = metadata["class_names"].numpy().astype(str)
    results[f"{index}/class_names_file"] = np.array(metadata["class_names_file"].numpy().decode())
    results[f"{index}/frame_hop_seconds"] = metadata["frame_hop_seconds"].numpy()
    results[f"{index}/sample_rate"] = metadata["sample_rate"].numpy()
    with np.load(inputs_path) as inputs:
        for name in inputs.files:
            for key, value in serve(waveform=tf.constant(inputs[name])).items():
                results[f"{index}/{name}/{key}"] = value.numpy()
np.savez(outputs_path, **results)
"""


def run_quietly(command, **kwargs):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300, **kwargs)


@pytest.fixture(scope="module")
def class_names(shared_data):
    return openmic_class_names(shared_data)


@pytest.fixture(scope="module")
def exported(class_names, tmp_path_factory):
    """Kind -> (run directory, export directory), for a logmel and a random-VGGish run."""
    root = tmp_path_factory.mktemp("exported")
    runs = {kind: make_run(root / kind / "run", kind, class_names) for kind in KINDS}
    return {kind: (run_dir, export.export(run_dir, root / kind / "export").path) for kind, run_dir in runs.items()}


@pytest.mark.slow
def test_fresh_process_reload_gives_the_keras_numbers(exported, class_names, tmp_path):
    moved = {kind: tmp_path / f"moved_{kind}" for kind in KINDS}
    np.savez(tmp_path / "inputs.npz", **waveforms())
    try:
        for kind in KINDS:  # the export is self-contained: its asset moves with it
            os.rename(exported[kind][1], moved[kind])
        result = run_quietly([sys.executable, "-c", FRESH_PROCESS, str(tmp_path / "inputs.npz"),
                              str(tmp_path / "outputs.npz"), *map(str, moved.values())], cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    finally:
        for kind in KINDS:
            if moved[kind].exists():
                os.rename(moved[kind], exported[kind][1])
    reloaded = np.load(tmp_path / "outputs.npz")
    for index, kind in enumerate(KINDS):
        pipeline = export.Pipeline.from_run(exported[kind][0])
        for name, waveform in waveforms().items():
            expected = pipeline(waveform)
            examples = max(1, 1 + (len(waveform) - params.EXAMPLE_SAMPLES) // params.EXAMPLE_HOP_SAMPLES)
            frames = examples * round(params.EXAMPLE_HOP_SECONDS / pipeline.frame_hop_seconds)
            assert expected["log_mel"].shape == (examples, params.EXAMPLE_FRAMES, params.NUM_MEL_BINS)
            assert expected["frame_probabilities"].shape == (frames, len(class_names))
            for key in export.OUTPUTS:
                np.testing.assert_allclose(reloaded[f"{index}/{name}/{key}"], expected[key], rtol=1e-5, atol=1e-5,
                                           err_msg=f"{kind}: {name}/{key}")
        assert list(reloaded[f"{index}/class_names"]) == class_names
        assert reloaded[f"{index}/sample_rate"] == params.SAMPLE_RATE
        assert reloaded[f"{index}/frame_hop_seconds"] == pytest.approx(pipeline.frame_hop_seconds)
        asset = Path(str(reloaded[f"{index}/class_names_file"]))
        assert asset.parent == moved[kind] / "assets"
        with open(exported[kind][1] / "assets" / asset.name) as stream:
            assert [row["name"] for row in csv.DictReader(stream)] == class_names


@pytest.mark.parametrize("kind, frame_hop_seconds", [("logmel", 0.01), ("random", 0.96)])
def test_pipeline_matches_the_feature_model_on_the_whole_clip(exported, kind, frame_hop_seconds):
    pipeline = export.Pipeline.from_run(exported[kind][0])
    assert pipeline.frame_hop_seconds == pytest.approx(frame_hop_seconds)
    waveform = waveforms()["three_point_three"]
    outputs = pipeline(waveform)
    clip_features = pipeline.feature_model(outputs["log_mel"][None])
    np.testing.assert_allclose(outputs["features"], np.asarray(clip_features)[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(outputs["probabilities"], np.asarray(pipeline.classifier(clip_features))[0],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs["timestamps"],
                               np.arange(len(outputs["features"])) * pipeline.frame_hop_seconds, atol=1e-5)


@pytest.mark.slow
def test_saved_model_cli_lists_the_signatures(exported):
    export_dir = exported["logmel"][1]
    cli = Path(sys.executable).with_name("saved_model_cli")
    result = run_quietly([str(cli), "show", "--dir", str(export_dir), "--all"])
    assert result.returncode == 0, result.stderr
    serving = result.stdout.split("signature_def['serving_default']:")[1].split("signature_def[")[0]
    assert "inputs['waveform'] tensor_info:\n        dtype: DT_FLOAT\n        shape: (-1)" in serving
    for name in export.OUTPUTS:
        assert f"outputs['{name}']" in serving
    assert "shape: (-1, 96, 64)" in serving
    metadata = result.stdout.split("signature_def['metadata']:")[1]
    assert "outputs['class_names'] tensor_info:\n        dtype: DT_STRING\n        shape: (20)" in metadata


def test_cli_writes_and_describes_the_export(class_names, tmp_path, capsys):
    run_dir = make_run(tmp_path / "run", "logmel", class_names)
    assert export_cli.main([str(run_dir), "--out", str(tmp_path / "export")]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {tmp_path / 'export'}: 20 instruments (accordion, banjo," in printed
    assert "frame_probabilities (T, 20)" in printed and "log_mel             (n, 96, 64)" in printed
    assert (tmp_path / "export" / "saved_model.pb").is_file()
    marker = json.loads((tmp_path / "export" / export.EXPORT_MARKER).read_text())
    assert marker["run_dir"] == str(run_dir.resolve()) and marker["class_names"] == class_names
    assert sorted(os.listdir(tmp_path)) == ["export", "run"]


@pytest.mark.slow
def test_cli_replaces_only_an_earlier_export_and_only_with_the_flag(class_names, tmp_path, capsys):
    run_dir = make_run(tmp_path / "run", "logmel", class_names)
    assert export_cli.main([str(run_dir), "--out", str(tmp_path / "export")]) == 0
    assert export_cli.main([str(run_dir), "--out", str(tmp_path / "export")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "already exists; pass --overwrite" in error
    (tmp_path / "export" / "note.txt").write_text("added after the export")
    assert export_cli.main([str(run_dir), "--out", str(tmp_path / "export"), "--overwrite"]) == 0
    assert sorted(os.listdir(tmp_path / "export")) == ["airtf-export.json", "assets", "fingerprint.pb",
                                                       "saved_model.pb", "variables"]
    assert sorted(os.listdir(tmp_path)) == ["export", "run"]


@pytest.mark.parametrize("removed", [[layout.MODEL_NAME],
                                     [layout.FEATURE_SPEC_NAME, layout.CLASSES_NAME]])
def test_cli_names_missing_run_files_in_one_line(class_names, tmp_path, capsys, removed):
    run_dir = make_run(tmp_path / "run", "logmel", class_names)
    for name in removed:
        (run_dir / name).unlink()
    assert export_cli.main([str(run_dir), "--out", str(tmp_path / "export")]) == 2
    error = capsys.readouterr().err
    assert error == (f"airtf-export: error: {run_dir}: has no {', '.join(removed)}; "
                     "pass a run directory written by a finished airtf-eval\n")
    assert not (tmp_path / "export").exists()


def test_damaged_run_files_give_one_line_errors(class_names, tmp_path):
    run_dir = make_run(tmp_path / "run", "logmel", class_names)
    (run_dir / layout.CLASSES_NAME).write_text(json.dumps(class_names[:5]))
    with pytest.raises(RunError, match="5 class names for a classifier of 20 classes"):
        export.Pipeline.from_run(run_dir)
    (run_dir / layout.MODEL_NAME).write_bytes(b"not a zip")
    with pytest.raises(RunError, match="attention.keras: cannot load the classifier"):
        export.Pipeline.from_run(run_dir)


def test_load_tells_export_and_run_directories_apart(tmp_path):
    with pytest.raises(export.ExportError, match="not found; pass a directory written by airtf-export"):
        export.load(tmp_path / "absent")
    with pytest.raises(export.ExportError, match="neither an export directory nor a run directory"):
        export.load(tmp_path)
    (tmp_path / "saved_model.pb").write_bytes(b"garbage")
    with pytest.raises(export.ExportError, match="cannot load the SavedModel"):
        export.load(tmp_path)
