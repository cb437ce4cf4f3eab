"""LiteRT and ONNX recognisers: the SavedModel's numbers from builtin operations, whole or streamed, via airtf-predict."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import soundfile

from airtf import audio, params
from airtf.cli import export as export_cli
from airtf.cli import predict as predict_cli
from airtf.errors import AirtfError
from airtf.serve import export, portable, predict, runtimes
from airtf.vggish.postprocess import PCAQuantize
from test_export import make_run, openmic_class_names
from test_portable import long_waveform

SUFFIXES = {"litert": ".tflite", "onnx": ".onnx"}
CASES = [("logmel", "litert"), ("logmel", "onnx"),
         pytest.param("random", "litert", marks=pytest.mark.slow)]  # ONNX of VGGish: 16 GB, more than a test may take


@pytest.fixture(scope="module")
def runs(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    names = openmic_class_names(shared_data)
    return {kind: make_run(root / kind, kind, names) for kind in ("logmel", "random")}


@pytest.fixture(scope="module")
def written(runs, tmp_path_factory):
    """(kind, format, quantize) -> the file airtf-export wrote (each written once)."""
    root, files = tmp_path_factory.mktemp("files"), {}

    def write(kind, format, quantize=None):
        if (kind, format, quantize) not in files:
            path = root / f"{kind}-{quantize}{SUFFIXES[format]}"
            arguments = [str(runs[kind]), "--format", format, "--out", str(path)]
            assert export_cli.main(arguments + (["--quantize", quantize] if quantize else [])) == 0
            files[kind, format, quantize] = path
        return files[kind, format, quantize]

    return write


@pytest.fixture(scope="module")
def saved_models(runs, tmp_path_factory):
    root = tmp_path_factory.mktemp("saved")
    return {kind: export.ExportedModel(export.export(run, root / kind).path) for kind, run in runs.items()}


@pytest.fixture(scope="module")
def long_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("audio") / "long.wav"
    soundfile.write(path, long_waveform(), params.SAMPLE_RATE, subtype="FLOAT")
    return path


def assert_outputs_close(got, expected):
    assert set(got) == set(export.OUTPUTS)
    for name in export.OUTPUTS:
        assert got[name].shape == expected[name].shape, name
        np.testing.assert_allclose(got[name], expected[name], rtol=0,
                                   atol=1e-4 * max(1.0, np.abs(expected[name]).max()), err_msg=name)


@pytest.mark.slow
@pytest.mark.parametrize("kind, format", CASES)
def test_a_file_equals_the_saved_model_at_any_length(kind, format, written, saved_models, openmic_clip, capsys):
    model = export.load(written(kind, format))
    assert f": {format}, " in capsys.readouterr().out
    assert model.class_names == saved_models[kind].class_names
    assert model.frame_hop_seconds == pytest.approx(saved_models[kind].frame_hop_seconds)
    for waveform in (audio.read(openmic_clip), long_waveform(), long_waveform(0.5)):  # one loaded file
        assert_outputs_close(model(waveform), saved_models[kind](waveform))


@pytest.mark.slow
@pytest.mark.parametrize("kind, format", CASES)
def test_streaming_a_long_file_in_chunks_gives_the_whole_waveform_numbers(kind, format, written, long_file):
    model = runtimes.load(written(kind, format))
    whole = model(audio.read(long_file))
    clip = predict.Clip(model, long_file, block_seconds=7.0, chunk_frames=1000, memory_bytes=0)  # read per pass
    probabilities, runs, frames = predict.score(model, clip, keep_frames=True)
    np.testing.assert_allclose(probabilities, whole["probabilities"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(frames["frame_probabilities"], whole["frame_probabilities"], rtol=0, atol=1e-4)


@pytest.mark.slow
def test_airtf_predict_gives_the_saved_models_answer(written, runs, tmp_path, openmic_clip, capsys):
    saved_dir = tmp_path / "saved"
    export.export(runs["logmel"], saved_dir)
    documents = {}
    for model in (saved_dir, written("logmel", "litert"), written("logmel", "onnx")):
        assert predict_cli.main([str(openmic_clip), "--model", str(model), "--json"]) == 0
        documents[model] = json.loads(capsys.readouterr().out)[str(openmic_clip)]
    expected = documents.pop(saved_dir)
    for document in documents.values():
        assert document["duration"] == expected["duration"]
        for name, entry in expected["instruments"].items():
            assert document["instruments"][name]["probability"] == pytest.approx(entry["probability"], abs=1e-3)
            assert document["instruments"][name]["present"] == entry["present"]
            assert document["instruments"][name]["active"] == entry["active"]


@pytest.mark.slow
@pytest.mark.parametrize("quantize, bound", [("float16", 2e-3), ("dynamic-int8", 2e-2)])
def test_quantised_files_keep_the_front_end_exact_and_stay_within_their_bound(quantize, bound, written,
                                                                               saved_models, openmic_clip):
    model = runtimes.load(written("logmel", "litert", quantize))
    assert model.metadata["quantize"] == quantize
    expected = saved_models["logmel"](audio.read(openmic_clip))
    got = model(audio.read(openmic_clip))
    np.testing.assert_allclose(got["log_mel"], expected["log_mel"], rtol=0, atol=1e-3)  # not quantised
    np.testing.assert_allclose(got["probabilities"], expected["probabilities"], rtol=0, atol=bound)
    assert written("logmel", "litert", quantize).stat().st_size < written("logmel", "litert").stat().st_size


def test_pca_in_float32_lands_at_most_one_step_from_float64(shared_data):
    embeddings = keras.Input((params.EMBEDDING_SIZE,))
    pca = PCAQuantize.from_file(shared_data / "vggish" / "vggish_pca_params.npz")
    model = keras.Model(embeddings, pca(embeddings))
    copy = portable.float32_pca(model)
    assert copy.layers[1].dtype == "float32" and model.layers[1].dtype == "float64"  # the original is untouched
    values = np.random.default_rng(0).normal(0.0, 0.5, (2000, params.EMBEDDING_SIZE)).astype(np.float32)
    steps = np.abs(np.asarray(copy(values)) - np.asarray(model(values)))
    assert steps.max() <= 1.0
    assert 0 < (steps > 0).mean() < 1e-3  # a float32 projection near a step only
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    assert portable.float32_pca(plain) is plain


def write_bytes(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name, data, message", [
    ("missing.tflite", None, "not found; pass a file written by airtf-export --format litert"),
    ("empty.tflite", b"", "not a LiteRT file"),
    ("noise.tflite", bytes(range(256)) * 8, "not a LiteRT file"),
    ("noise.onnx", bytes(range(256)) * 8, "ONNX Runtime cannot load it"),
    ("model.bin", b"x", "neither .tflite nor .onnx"),
])
def test_bad_files_give_one_line_errors(name, data, message, tmp_path):
    path = tmp_path / name if data is None else write_bytes(tmp_path / name, data)
    with pytest.raises(AirtfError, match=message) as raised:
        runtimes.load(path)
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)


def test_a_file_without_airtf_metadata_is_named(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model(np.zeros((1, 4), np.float32))
    model.export(str(tmp_path / "plain.tflite"), format="litert", verbose=False)
    with pytest.raises(AirtfError, match="has no airtf metadata"):
        runtimes.load(tmp_path / "plain.tflite")


def test_a_missing_runtime_names_the_extra(tmp_path, monkeypatch):
    path = write_bytes(tmp_path / "model.onnx", b"the runtime is asked for before the file is read")
    monkeypatch.setitem(runtimes.EXTRAS, "onnx", ("onnxruntime_absent", "airtf[onnx]"))
    with pytest.raises(AirtfError, match=r"needs onnxruntime_absent; pip install 'airtf\[onnx\]'"):
        runtimes.load(path)


def test_replacing_features_of_a_file_is_refused(tmp_path):
    path = write_bytes(tmp_path / "model.tflite", b"refused before the file is read")
    with pytest.raises(AirtfError, match="holds its own features model, so --hop does not apply"):
        export.load(path, hop=0.48)


def test_an_existing_file_is_replaced_only_with_overwrite(runs, tmp_path, capsys):
    path = write_bytes(tmp_path / "kept.onnx", b"mine")
    assert export_cli.main([str(runs["logmel"]), "--format", "onnx", "--out", str(path)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err and path.read_bytes() == b"mine"


def mirrored_edges_pipeline():
    """A small recogniser on musicnn's front end, whose frames are centred (the waveform's edges mirrored)."""
    from airtf.classify import attention
    from airtf.musicnn.audio_converter import MusicnnPatches

    keras.utils.set_random_seed(2)
    patches = keras.Input((None, 187, 96))
    pooled = keras.layers.TimeDistributed(keras.layers.GlobalAveragePooling1D())(patches)
    features = keras.layers.Dense(8, activation="tanh")(pooled)
    classifier = attention.AttentionClassifier(num_classes=3)
    classifier.build((None, None, 8))
    return export.Pipeline(keras.Model(patches, features), classifier, ["a", "b", "c"], MusicnnPatches())


@pytest.mark.slow
@pytest.mark.parametrize("format", ["litert", "onnx"])
def test_a_front_end_with_mirrored_edges_streams_like_the_keras_pipeline(format, tmp_path, long_file):
    pipeline = mirrored_edges_pipeline()
    path = tmp_path / f"musicnn{SUFFIXES[format]}"
    portable.write_recognizer(pipeline, path, format)
    model = runtimes.load(path)
    assert model.edge_samples == 256 and model.frame_hop_seconds == pytest.approx(187 * 256 / 16000)
    whole = pipeline(audio.read(long_file))
    assert_outputs_close(model(audio.read(long_file)), whole)
    clip = predict.Clip(model, long_file, block_seconds=7.0, chunk_frames=4, memory_bytes=0)
    probabilities, _, frames = predict.score(model, clip, keep_frames=True)
    np.testing.assert_allclose(probabilities, whole["probabilities"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(frames["frame_probabilities"], whole["frame_probabilities"], rtol=0, atol=1e-4)


LOADED_FRAMEWORKS = "import sys; print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"


def test_running_a_device_file_imports_neither_keras_nor_tensorflow():
    code = f"import airtf.cli.predict, airtf.serve.runtimes, airtf.serve.predict, airtf.audio; {LOADED_FRAMEWORKS}"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
@pytest.mark.parametrize("format", ["litert", "onnx"])
def test_airtf_predict_on_a_device_file_runs_without_tensorflow(format, written, openmic_clip):
    code = ("import sys; from airtf.cli import predict; "
            f"assert predict.main([{str(openmic_clip)!r}, '--model', {str(written('logmel', format))!r}]) == 0; "
            f"{LOADED_FRAMEWORKS}")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "guitar" in result.stdout and result.stdout.strip().endswith("[]")  # FAVOURED by make_run


def identity_onnx(path, metadata):
    """A one-node ONNX file carrying ``metadata`` as its airtf document."""
    import onnx
    from onnx import TensorProto, helper

    tensor = helper.make_tensor_value_info("waveform", TensorProto.FLOAT, [None])
    output = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None])
    graph = helper.make_graph([helper.make_node("Identity", ["waveform"], ["probabilities"])], "g", [tensor], [output])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    entry = model.metadata_props.add()
    entry.key, entry.value = "airtf", metadata
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("metadata, message", [
    ("[1, 2]", "its airtf metadata is not a JSON object"),
    ("{not json", "its airtf metadata is not JSON"),
    ('{"class_names": ["a"]}', "its airtf metadata lacks frame_hop_seconds"),
])
def test_malformed_metadata_is_named_in_one_line(metadata, message, tmp_path):
    path = identity_onnx(tmp_path / "crafted.onnx", metadata)
    with pytest.raises(AirtfError, match=message) as raised:
        runtimes.load(path)
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)
