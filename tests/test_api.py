"""The public API: airtf.embed equals airtf-extract's files, and a recogniser loads and predicts."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile

import airtf
from airtf import audio, vggish
from airtf.cli import extract as extract_cli
from airtf.errors import AirtfError
from airtf.serve import predict
from test_export import make_run, openmic_class_names


@pytest.fixture(scope="module")
def extracted(openmic_clip, shared_data, tmp_path_factory):
    """airtf-extract's JSON of the real clip, for each output (random weights; the shared PCA file)."""
    out = tmp_path_factory.mktemp("extracted")
    pca = shared_data / "vggish" / "vggish_pca_params.npz"
    for output in ("logmel", "embedding", "pca"):
        assert extract_cli.main([str(openmic_clip), "--out", str(out), "--output", output, "--weights", "random",
                                 "--pca-params", str(pca), "--quiet"]) == 0
    return {output: json.loads((out / output / "000046_3840.json").read_text()) for output in ("logmel", "embedding",
                                                                                            "pca")}


@pytest.mark.slow
@pytest.mark.parametrize("output, dtype", [("logmel", np.float32), ("embedding", np.float32), ("pca", np.uint8)])
def test_embed_equals_airtf_extract(extracted, openmic_clip, shared_data, output, dtype):
    features, time_points = airtf.embed(openmic_clip, output=output, weights="random",
                                        pca_params=shared_data / "vggish" / "vggish_pca_params.npz")
    assert features.dtype == dtype and len(features) == 10
    assert time_points == extracted[output]["time_points"]
    np.testing.assert_array_equal(features, np.asarray(extracted[output]["features"], dtype))


def test_embed_takes_samples_with_their_rate(openmic_clip):
    samples, rate = soundfile.read(openmic_clip, dtype="float32")
    from_samples, times = airtf.embed(samples, rate, output="logmel")
    from_file, _ = airtf.embed(openmic_clip, output="logmel")
    np.testing.assert_allclose(from_samples, from_file, atol=1e-4)
    assert times[:3] == [0.0, 0.96, 1.92]
    with pytest.raises(ValueError, match="need their sample_rate"):
        airtf.embed(samples)
    with pytest.raises(ValueError, match="unknown output 'mfcc'"):
        airtf.embed(samples, rate, output="mfcc")


def test_embed_keeps_its_model_between_calls(openmic_clip, monkeypatch):
    built = []
    from_preset = vggish.from_preset
    monkeypatch.setattr(vggish, "from_preset", lambda *args: built.append(args) or from_preset(*args))
    airtf.api._extractor.cache_clear()
    first, _ = airtf.embed(openmic_clip, weights="random")
    second, _ = airtf.embed(openmic_clip, weights="random")
    assert len(built) == 1
    np.testing.assert_array_equal(first, second)


def test_embed_names_a_bad_file(tmp_path):
    (tmp_path / "broken.wav").write_bytes(b"not audio at all")
    with pytest.raises(AirtfError, match="broken.wav: cannot decode"):
        airtf.embed(tmp_path / "broken.wav", output="logmel")


def test_a_recognizer_predicts_from_a_file_or_samples(shared_data, openmic_clip, tmp_path):
    run_dir = make_run(tmp_path / "run", "logmel", openmic_class_names(shared_data))
    recognizer = airtf.load_recognizer(run_dir)
    assert recognizer.class_names == openmic_class_names(shared_data)
    from_file = recognizer.predict(openmic_clip)
    assert from_file == predict.predict_file(recognizer.model, openmic_clip)
    assert from_file.instruments and from_file.duration == pytest.approx(10.0, abs=0.01)
    samples = audio.read(openmic_clip)
    from_samples = recognizer.predict(samples, 16000)
    assert list(from_samples.instruments) == list(from_file.instruments)
    outputs = recognizer.outputs(samples, 16000)
    assert outputs["frame_probabilities"].shape == (960, 20)


@pytest.fixture(scope="module")
def int16_clip(openmic_clip):
    """The real clip as int16 (frames, 2) at its own rate, and the same samples as floats (x / 32768)."""
    samples, rate = soundfile.read(openmic_clip, dtype="int16")
    return samples, samples.astype(np.float32) / 32768, rate


def same_samples_in_other_forms(samples):
    """The int16 samples as int32, float64 (scaled) and (channels, frames): each must read as the float32 ones."""
    return {"int16": samples, "int32": samples.astype(np.int32) << 16, "float64": samples / 32768.0,
            "channels first": samples.T.copy(), "int16 channels first": samples.T}


@pytest.mark.parametrize("form", ["int16", "int32", "float64", "channels first", "int16 channels first"])
def test_embed_reads_integer_float64_and_channels_first_samples_as_their_float32(int16_clip, form):
    samples, floats, rate = int16_clip
    expected, _ = airtf.embed(floats, rate, output="logmel")
    given = same_samples_in_other_forms(samples)[form]
    if form == "channels first":
        given = given.astype(np.float32) / 32768
    features, _ = airtf.embed(given, rate, output="logmel")
    np.testing.assert_array_equal(features, expected)


def test_a_recognizer_reads_int16_and_channels_first_samples_as_their_float32(int16_clip, shared_data, tmp_path):
    samples, floats, rate = int16_clip
    recognizer = airtf.load_recognizer(make_run(tmp_path / "run", "logmel", openmic_class_names(shared_data)))
    expected = recognizer.predict(floats, rate)
    for given in (samples, samples.T, floats.T, samples.astype(np.int32) << 16):
        assert recognizer.predict(given, rate) == expected


@pytest.mark.parametrize("rate, message", [(0, "0"), (-1, "-1"), (float("nan"), "nan"),
                                           (22050.5, "22050.5"), (True, "True"), ("44100", "'44100'")])
def test_bad_rates_are_one_line_errors_in_embed_and_predict(rate, message, shared_data, tmp_path):
    recognizer = airtf.load_recognizer(make_run(tmp_path / "run", "logmel", openmic_class_names(shared_data)))
    samples = np.zeros(16000, np.float32)
    for call in (lambda: airtf.embed(samples, rate, output="logmel"), lambda: recognizer.predict(samples, rate)):
        with pytest.raises(audio.WaveformError, match=f"sample rate {message}.*positive whole number") as raised:
            call()
        assert "\n" not in str(raised.value)


@pytest.mark.parametrize("samples, message", [
    (np.zeros(100, np.int64), "dtype int64"), (np.zeros(100, bool), "dtype bool"),
    (np.zeros(100, np.complex64), "dtype complex64"), (np.zeros((2, 3, 100), np.float32), r"shape \(2, 3, 100\)"),
    (np.zeros(0, np.float32), r"shape \(0,\)"), (np.zeros((100, 100), np.float32), "neither axis"),
    (np.zeros((200, 300), np.float32), "neither axis"), (np.full(100, np.nan, np.float32), "NaN")])
def test_samples_airtf_cannot_read_are_refused_with_the_fix(samples, message):
    with pytest.raises(audio.WaveformError, match=message):
        airtf.embed(samples, 16000, output="logmel")


def test_integer_scales_are_those_of_soundfile(tmp_path):
    rng = np.random.default_rng(0)
    for subtype, dtype in (("PCM_16", "int16"), ("PCM_32", "int32"), ("PCM_U8", None)):
        floats = rng.uniform(-1, 1, 1000).astype(np.float32)
        soundfile.write(tmp_path / "x.wav", floats, 16000, subtype=subtype)
        as_floats, _ = soundfile.read(tmp_path / "x.wav", dtype="float32")
        if dtype is None:  # 8-bit WAV is unsigned: read its bytes
            data = np.frombuffer((tmp_path / "x.wav").read_bytes()[-1000:], np.uint8)
        else:
            data, _ = soundfile.read(tmp_path / "x.wav", dtype=dtype)
        np.testing.assert_array_equal(audio.waveform(data, 16000).samples, as_floats)


def test_float_samples_far_outside_the_unit_range_are_warned_about():
    with pytest.warns(audio.SampleRangeWarning, match="reach 32767.*divide them by 32768"):
        audio.waveform(np.full(100, 32767.0), 16000)


def test_every_command_answers_help_without_importing_tensorflow_keras_or_resampy():
    """--help (airtf-pretrain's lists every objective's options) loads none of the slow imports."""
    script = """
import contextlib, importlib, io, json, sys
from importlib.metadata import entry_points
loaded = {}
for entry in entry_points(group="console_scripts"):
    if entry.value.startswith("airtf.cli."):
        with contextlib.redirect_stdout(io.StringIO()) as shown, contextlib.suppress(SystemExit):
            entry.load()(["--help"])
        loaded[entry.name] = [name for name in ("tensorflow", "keras", "resampy", "sklearn", "matplotlib", "gensim")
                              if name in sys.modules]
        assert "usage:" in shown.getvalue(), entry.name
print(json.dumps(loaded))
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = json.loads(run.stdout)
    assert "airtf-pretrain" in loaded and len(loaded) >= 8
    assert loaded == {name: [] for name in loaded}
