"""LiteRT and ONNX embedders: builtin-only front end, and the files against the Keras model."""

import numpy as np
import pytest

from airtf import audio, vggish
from airtf.cli import export as export_cli
from airtf.serve import portable
from airtf.musicnn.audio_converter import MusicnnPatches
from airtf.vggish.audio_converter import LogMelExamples


def long_waveform(seconds=95.0):
    """A 95 s chord with noise, float32 at 16 kHz."""
    rng = np.random.default_rng(3)
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.2 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.mark.parametrize("method", ["matmul", "matmul-runtime"])
def test_matmul_front_ends_equal_the_exact_one(openmic_clip, method):
    for waveform in (audio.read(openmic_clip), long_waveform(3.0), long_waveform(0.4)):
        expected = np.asarray(LogMelExamples(pad=True)(waveform))
        got = np.asarray(LogMelExamples(pad=True, dft=method)(waveform))
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)


def test_musicnn_matmul_front_end_equals_the_exact_one(openmic_clip):
    waveform = np.pad(audio.read(openmic_clip), 256, mode="reflect")
    expected = np.asarray(MusicnnPatches()(waveform))
    got = np.asarray(MusicnnPatches(dft="matmul")(waveform))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * np.abs(expected).max())


def test_an_unknown_dft_method_is_refused():
    with pytest.raises(ValueError, match="unknown DFT method 'fft'; choose one of rfft, matmul"):
        LogMelExamples(dft="fft")


def run_litert(path, waveform):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    given = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(given["index"], [1, len(waveform)])
    interpreter.allocate_tensors()
    interpreter.set_tensor(given["index"], waveform[np.newaxis])
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def run_onnx(path, waveform):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path))
    return session.run(None, {session.get_inputs()[0].name: waveform[np.newaxis]})[0]


@pytest.mark.slow
def test_litert_embedder_equals_keras_at_any_length(openmic_clip, tmp_path, capsys):
    pytest.importorskip("ai_edge_litert")
    path = tmp_path / "embedder.tflite"
    assert export_cli.main(["--format", "litert", "--weights", "random", "--out", str(path)]) == 0
    assert f"wrote {path}: litert" in capsys.readouterr().out
    import keras

    keras.utils.set_random_seed(0)  # the random VGGish the command built: seed 0
    model = portable.embedder(vggish.from_preset("random"))
    for waveform in (audio.read(openmic_clip), long_waveform(), long_waveform(0.5)):
        expected = np.asarray(model(waveform[np.newaxis]))
        got = run_litert(path, waveform)  # one file, any length: the input is resized per waveform
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * np.abs(expected).max())


def small_backbone():
    """A VGGish-shaped stand-in, (n, 96, 64) -> (n, 128): tf2onnx needs about 16 GB for VGGish's 72 M weights,
    more than a test may take beside the suite; the front end and the export path are the same."""
    import keras

    keras.utils.set_random_seed(1)
    examples = keras.Input((96, 64))
    x = keras.layers.Conv1D(16, 3, activation="relu")(examples)
    return keras.Model(examples, keras.layers.Dense(128)(keras.layers.GlobalAveragePooling1D()(x)))


@pytest.mark.slow
def test_onnx_embedder_equals_keras_at_any_length(openmic_clip, tmp_path):
    pytest.importorskip("onnxruntime")
    model = portable.embedder(small_backbone(), "onnx")
    path = portable.export(model, tmp_path / "embedder.onnx", "onnx")
    for waveform in (audio.read(openmic_clip), long_waveform(), long_waveform(0.5)):
        expected = np.asarray(model(waveform[np.newaxis]))
        got = run_onnx(path, waveform)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * np.abs(expected).max())


def test_onnx_embedder_gives_pca_features_at_a_shorter_hop(openmic_clip, shared_data, tmp_path):
    pytest.importorskip("onnxruntime")
    pca_file = shared_data / "vggish" / "vggish_pca_params.npz"
    backbone = small_backbone()
    path = portable.export(portable.embedder(backbone, "onnx", pca_file, hop=0.48), tmp_path / "pca.onnx", "onnx")
    waveform = audio.read(openmic_clip)
    got = run_onnx(path, waveform)
    embeddings = np.asarray(backbone(LogMelExamples(pad=True, hop_frames=48)(waveform)))
    expected = np.asarray(vggish.PCAQuantize.from_file(pca_file)(embeddings))  # float64, as the official
    assert got.dtype == np.uint8 and got.shape == (19, 128)  # twice the examples of 0.96 s, less one
    steps = np.abs(got.astype(np.int16) - expected)
    assert steps.max() <= 1 and (steps > 0).mean() < 1e-2


@pytest.mark.parametrize("arguments, message", [
    (["--format", "savedmodel", "--out", "x"], "exports RUN_DIR's recogniser"),
    (["RUN", "--format", "onnx", "--quantize", "float16", "--out", "x.onnx"], "--format litert only"),
    (["--format", "onnx", "--pca-params", "p.npz", "--out", "x.onnx"], "--pca-params goes with --output pca"),
    (["RUN", "--format", "onnx", "--output", "pca", "--out", "x.onnx"], "--output chooses an embedder's output"),
])
def test_bad_combinations_are_one_line_errors(arguments, message, capsys):
    with pytest.raises(SystemExit):
        export_cli.main(arguments)
    assert message in capsys.readouterr().err


def test_a_file_without_the_formats_suffix_is_refused(tmp_path):
    with pytest.raises(Exception, match=r"a litert file must end in \.tflite"):
        portable.export(None, tmp_path / "embedder.bin", "litert")


@pytest.mark.slow
@pytest.mark.parametrize("quantize", ["float16", "dynamic-int8"])
def test_a_quantised_litert_embedder_is_smaller_and_close(quantize, openmic_clip, tmp_path):
    pytest.importorskip("ai_edge_litert")
    model = portable.embedder(small_backbone(), "litert")
    plain = portable.export(model, tmp_path / "plain.tflite", "litert")
    quantised = portable.export(model, tmp_path / f"{quantize}.tflite", "litert", quantize)
    waveform = audio.read(openmic_clip)
    expected = np.asarray(model(waveform[np.newaxis]))
    np.testing.assert_allclose(run_litert(plain, waveform), expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    np.testing.assert_allclose(run_litert(quantised, waveform), expected, rtol=0, atol=5e-2 * np.abs(expected).max())
    assert quantised.stat().st_size < plain.stat().st_size
