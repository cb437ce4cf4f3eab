"""The public API: airtf.embed equals airtf-extract's files, and a recogniser loads and predicts."""

import json

import numpy as np
import pytest
import soundfile

import airtf
from airtf import audio, predict, vggish
from airtf.cli import extract as extract_cli
from airtf.errors import AirtfError
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
