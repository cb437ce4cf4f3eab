"""The musicnn family: front end against librosa, ports against musicnn's own graph, fetch from its wheel."""

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from airtf import audio, musicnn
from airtf.errors import CheckpointError, WeightsNotFoundError
from airtf.musicnn import audio_converter, backbone, checkpoint, presets

from conftest import WHEEL_NAME
TOLERANCE = 1e-4
"""Largest difference allowed between the port and musicnn's graph, relative to the layer's largest value."""


@pytest.fixture(scope="session")
def musicnn_package():
    """The installed musicnn package's folder (its checkpoints are the wheel's), without importing it."""
    spec = importlib.util.find_spec("musicnn")
    if spec is None:
        pytest.skip("musicnn is not installed: scripts/test installs its wheel with --no-deps")
    return Path(spec.submodule_search_locations[0])


def chirp(seconds=7.0, rate=16000):
    """A logarithmic sweep from 100 Hz to 7 kHz at half scale, float32."""
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * 100 * seconds / np.log(70) * (np.exp(np.log(70) * t / seconds) - 1)
    return (0.5 * np.sin(phase)).astype(np.float32)


def test_mel_filters_equal_librosas():
    import librosa

    expected = librosa.filters.mel(sr=16000, n_fft=512, n_mels=96, dtype=np.float64)
    np.testing.assert_allclose(audio_converter.mel_filters().T, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("seconds", [7.0, 3.05])
def test_patches_equal_librosa_melspectrogram_in_float32(seconds):
    import librosa

    waveform = chirp(seconds)
    power = librosa.feature.melspectrogram(y=waveform, sr=16000, n_fft=512, hop_length=256, n_mels=96,
                                           center=True, pad_mode="reflect").T
    log_mel = np.log10(10000 * power.astype(np.float32) + 1)
    count = len(log_mel) // audio_converter.PATCH_FRAMES
    expected = log_mel[:count * 187].reshape(count, 187, 96)
    patches = musicnn.patches_of_waveform(waveform)
    assert patches.shape == expected.shape and count >= 1
    np.testing.assert_allclose(patches, expected, rtol=0, atol=TOLERANCE * np.abs(expected).max())
    # bands whose mel power exceeds 6.55: musicnn's float16 makes 10000 x infinite there, float32 keeps them
    assert np.isfinite(patches).all() and patches.max() > np.log10(float(np.finfo(np.float16).max) + 1)


def test_streamed_patches_equal_the_whole_waveform(tmp_path, openmic_clip):
    from airtf.features import extract

    whole = musicnn.patches_of_waveform(audio.read(openmic_clip))
    extractor = extract.Extractor("logmel", front_end=musicnn.MusicnnPatches(), block_seconds=0.7)
    [streamed] = extractor.arrays([openmic_clip])
    assert streamed.shape == whole.shape == (3, 187, 96)
    np.testing.assert_allclose(streamed, whole, rtol=0, atol=1e-5)


def test_short_audio_gives_one_patch_only_when_padded():
    from airtf.features import extract

    short = audio.waveform(chirp(1.0), 16000)
    assert extract.Extractor("logmel", front_end=musicnn.MusicnnPatches()).arrays([short])[0].shape == (0, 187, 96)
    [padded] = extract.Extractor("logmel", front_end=musicnn.MusicnnPatches(), pad=True).arrays([short])
    assert padded.shape == (1, 187, 96)
    np.testing.assert_allclose(padded[0, 70:], 0.0, atol=1e-6)  # after 1 s: the padding's silence, log10(1) = 0


def _reference(model, patches, tmp_path):
    """musicnn's own graph's outputs of ``patches`` (tests/musicnn_reference.py in a process of its own)."""
    np.savez(tmp_path / "patches.npz", patches=patches)
    script = Path(__file__).with_name("musicnn_reference.py")
    subprocess.run([sys.executable, str(script), model, str(tmp_path / "patches.npz"), str(tmp_path / "out.npz")],
                   check=True, capture_output=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return np.load(tmp_path / "out.npz")


@pytest.mark.slow
@pytest.mark.parametrize("model", ["MTT_musicnn", "MTT_vgg"])
def test_port_equals_musicnns_own_graph_on_every_layer(model, musicnn_package, openmic_clip, tmp_path):
    architecture = "vgg" if "vgg" in model else "musicnn"
    patches = np.concatenate([musicnn.patches_of_waveform(audio.read(openmic_clip)),
                              musicnn.patches_of_waveform(chirp())])
    expected = _reference(model, patches, tmp_path)
    port = checkpoint.load_checkpoint(backbone.build(architecture, initializer="zeros"), architecture,
                                      musicnn_package / model)
    outputs = port.predict(patches, verbose=0)
    assert set(outputs) == set(expected.files) == set(backbone.LAYERS[architecture])
    for layer in backbone.LAYERS[architecture]:
        reference = expected[layer].reshape(outputs[layer].shape)
        scale = np.abs(reference).max()
        assert scale > 0, layer
        assert np.abs(outputs[layer] - reference).max() <= TOLERANCE * scale, layer


def test_tags_of_the_real_clip_and_the_chirp_differ(fetched, openmic_clip):
    """The float32 front end lets the tagger tell files apart (musicnn's float16 gave every file one answer)."""
    source = musicnn.MusicnnSource.parse("musicnn-mtt", "taggram")
    model = source.load()
    clip = model.predict(musicnn.patches_of_waveform(audio.read(openmic_clip)), verbose=0).mean(axis=0)
    sweep = model.predict(musicnn.patches_of_waveform(chirp()), verbose=0).mean(axis=0)
    assert clip.shape == (50,) and len(source.tags()) == 50
    assert np.argmax(clip) != np.argmax(sweep)
    assert np.abs(clip - sweep).max() > 0.1


def test_fetch_downloads_verifies_unpacks_and_keeps(server, musicnn_wheel, tmp_path):
    server.files[WHEEL_NAME] = musicnn_wheel.read_bytes()
    done = musicnn.fetch(tmp_path / "m", mirror=server.url)
    actions = {name: action for name, _, action in done}
    assert actions == {"MTT_musicnn": "unpacked", "MSD_musicnn": "unpacked", "MTT_vgg": "unpacked",
                       "MSD_vgg": "unpacked", "wheel": "downloaded"}
    assert sorted(path.name for path in (tmp_path / "m").iterdir()) == ["MSD_musicnn", "MSD_vgg", "MTT_musicnn",
                                                                        "MTT_vgg"]  # the wheel is gone
    assert sorted(path.name for path in (tmp_path / "m" / "MTT_vgg").iterdir()) == sorted(presets.CHECKPOINT_FILES)
    requests = len(server.requests)
    assert {action for _, _, action in musicnn.fetch(tmp_path / "m", mirror=server.url)} == {"present"}
    assert len(server.requests) == requests


def test_fetch_refuses_a_wheel_with_another_checksum_and_unpacks_nothing(server, musicnn_wheel, tmp_path):
    forged = tmp_path / WHEEL_NAME
    with zipfile.ZipFile(musicnn_wheel) as original, zipfile.ZipFile(forged, "w") as copy:
        for item in original.infolist():
            copy.writestr(item, original.read(item))
        copy.writestr("musicnn/extra.py", "print('never run')\n")
    server.files[WHEEL_NAME] = forged.read_bytes()[:musicnn_wheel.stat().st_size].ljust(
        musicnn_wheel.stat().st_size, b"\0")
    with pytest.raises(CheckpointError, match="sha256 .* expected f38a4890"):
        musicnn.fetch(tmp_path / "m", mirror=server.url)
    assert list((tmp_path / "m").iterdir()) == []


def test_fetch_from_a_folder_keeps_the_wheel(musicnn_wheel, tmp_path):
    done = musicnn.fetch(tmp_path / "m", source=musicnn_wheel.parent)
    assert ("wheel", musicnn_wheel, "found") in done and musicnn_wheel.is_file()
    with pytest.raises(WeightsNotFoundError, match="pip download musicnn==0.1.0"):
        musicnn.fetch(tmp_path / "other", source=tmp_path / "empty")


def test_a_checkpoint_folder_is_recognised_by_its_sha256(musicnn_package, tmp_path):
    source = musicnn.MusicnnSource.parse(musicnn_package / "MSD_vgg")
    assert (source.preset, source.architecture, source.layer) == ("vgg-msd", "vgg", "pool5")
    assert source.identity()["sha256"] == presets.manifest()["checkpoints"]["MSD_vgg"][".data-00000-of-00001"][
        "sha256"]
    with pytest.raises(CheckpointError, match="no musicnn checkpoint here"):
        musicnn.MusicnnSource.parse(tmp_path)
    for name in presets.CHECKPOINT_FILES:
        (tmp_path / name).write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not one of musicnn's released checkpoints"):
        musicnn.MusicnnSource.parse(tmp_path)
    with pytest.raises(CheckpointError, match="unknown layer 'pool5' of musicnn-mtt; choose one of"):
        musicnn.MusicnnSource.parse("musicnn-mtt", "pool5")


def test_wrong_architecture_names_the_missing_variable(musicnn_package):
    with pytest.raises(CheckpointError, match="variable conv2d/kernel is missing; this is not a musicnn"):
        checkpoint.load_checkpoint(backbone.build("musicnn", initializer="zeros"), "musicnn",
                                   musicnn_package / "MTT_vgg")


def test_unfetched_preset_says_how_to_fetch():
    with pytest.raises(WeightsNotFoundError, match="airtf-weights fetch musicnn"):
        musicnn.from_preset("musicnn-mtt")


def test_embed_gives_the_layer_per_3s_patch(fetched, openmic_clip):
    import airtf

    features, times = airtf.embed(openmic_clip, weights="musicnn-mtt")
    patches = musicnn.patches_of_waveform(audio.read(openmic_clip))
    expected = musicnn.from_preset("musicnn-mtt").predict(patches, verbose=0)
    assert features.shape == (3, 753) and times == [0.0, 2.99, 5.98]
    np.testing.assert_allclose(features, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    penultimate, _ = airtf.embed(openmic_clip, weights="musicnn-mtt", layer="penultimate")
    assert penultimate.shape == (3, 200)


@pytest.fixture(scope="module")
def openmic(tmp_path_factory):
    """A demo OpenMIC of 6 rendered clips."""
    from airtf.datasets.openmic import OpenMIC
    from airtf.demo import sets as demo

    folder = tmp_path_factory.mktemp("demo") / "openmic"
    demo.render_openmic(folder, clips=6, seed=3)
    return OpenMIC(folder)


@pytest.mark.slow
def test_feature_set_is_the_layer_per_patch_normalised_on_training_clips(fetched, openmic, tmp_path, monkeypatch):
    from airtf.features import feature_sets

    keys = list(openmic.labels().sample_key)
    train, test = keys[:4], keys[4:]
    feature_set = feature_sets.parse("musicnn-mtt").fitted(openmic, train, tmp_path)
    assert feature_set.spec["layer"] == "max_pool" and feature_set.frame_shape == (3, 753)
    frames = feature_set.compute(openmic, test, tmp_path)
    model = musicnn.from_preset("musicnn-mtt")
    raw = np.stack([model.predict(musicnn.patches_of_waveform(audio.read(openmic.audio_path(key))), verbose=0)
                    for key in keys])
    low, high = raw[:4].min(axis=(0, 1)), raw[:4].max(axis=(0, 1))
    expected = (raw[4:] - low) / np.where(high > low, high - low, 1.0)
    assert frames.shape == (2, 3, 753)
    np.testing.assert_allclose(frames, expected, rtol=0, atol=1e-3)
    # a second computation reads the cache and loads no model
    monkeypatch.setattr(feature_sets.MusicnnFeatures, "new_extractor", lambda self: pytest.fail("recomputed"))
    feature_sets._embedding_extractor.cache_clear()
    np.testing.assert_array_equal(feature_set.compute(openmic, test, tmp_path), frames)
    assert feature_set.model().input.shape[2:] == (187, 96)
    # airtf-extract --output normalised computes the same frames from a run directory's feature_spec.json
    from airtf.features import extract
    from airtf.support.files import write_json

    write_json(tmp_path / "run" / "feature_spec.json", feature_set.spec)
    [normalised] = extract.make_extractor("normalised", tmp_path / "run").arrays([openmic.audio_path(test[0])])
    np.testing.assert_allclose(normalised, frames[0], rtol=0, atol=1e-5)
    write_json(tmp_path / "random" / "feature_spec.json", feature_sets.parse("random").spec)
    with pytest.raises(feature_sets.FeatureError, match="the random feature set is not normalised"):
        extract.make_extractor("normalised", tmp_path / "random")
    with pytest.raises(feature_sets.FeatureError, match="cannot read the run's feature set"):
        extract.make_extractor("normalised", tmp_path / "nothing")


@pytest.mark.parametrize("arguments, message", [
    (("musicnn-mtt", None, None, 0, "timbral"), "76,296 features per 3 s patch, too many"),
    (("vgg-msd", "official", None, 0, None), "--weights and --variant are VGGish's"),
    (("norm", None, None, 0, "max_pool"), "--layer chooses the layer of a musicnn model"),
])
def test_feature_set_refuses_what_does_not_apply(arguments, message):
    from airtf.features import feature_sets

    with pytest.raises(feature_sets.FeatureError, match=message):
        feature_sets.parse(*arguments)


@pytest.mark.slow
def test_predict_tags_prints_the_taggers_top_tags(fetched, openmic_clip, tmp_path, capsys):
    import json

    from airtf.cli import predict as predict_cli

    chirp_file = tmp_path / "chirp.wav"
    import soundfile

    soundfile.write(chirp_file, chirp(), 16000)
    assert predict_cli.main([str(openmic_clip), str(chirp_file), "--tags", "musicnn-mtt", "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    taggram = musicnn.from_preset("musicnn-mtt", "taggram").predict(
        musicnn.patches_of_waveform(audio.read(openmic_clip)), verbose=0).mean(axis=0)
    tags = musicnn.MusicnnSource.parse("musicnn-mtt").tags()
    top = np.argsort(-taggram)[:3]
    assert lines[0] == f"{openmic_clip}: " + ", ".join(f"{tags[index]} {taggram[index]:.3f}" for index in top)
    assert lines[1].startswith(f"{chirp_file}: ") and lines[1].count(",") == 2
    assert predict_cli.main([str(tmp_path / "missing.wav"), str(chirp_file), "--tags", "vgg-mtt", "--json"]) == 1
    captured = capsys.readouterr()
    assert "missing.wav" in captured.err
    document = json.loads(captured.out)
    assert list(document) == [str(chirp_file)] and len(document[str(chirp_file)]) == 50


@pytest.mark.slow
def test_a_recogniser_on_musicnn_features_exports_and_streams_alike(fetched, openmic_clip, tmp_path):
    import json

    import keras

    from airtf.classify import attention
    from airtf.features import feature_sets
    from airtf.serve import export, predict

    feature_set = feature_sets.parse("musicnn-mtt")
    spec = {**feature_set.spec, "normalization": {"minimum": [0.0] * 753, "maximum": [1.0] * 753}}
    run = tmp_path / "run"
    run.mkdir()
    keras.utils.set_random_seed(0)
    classifier = attention.AttentionClassifier(num_classes=3)
    classifier.build((None, None, 753))
    classifier.save(run / "attention.keras")
    (run / "feature_spec.json").write_text(json.dumps(spec))
    (run / "classes.json").write_text(json.dumps(["a", "b", "c"]))
    pipeline = export.Pipeline.from_run(run)
    waveform = audio.read(openmic_clip)
    whole = pipeline(waveform)
    assert whole["log_mel"].shape == (3, 187, 96) and whole["features"].shape == (3, 753)
    np.testing.assert_allclose(whole["log_mel"], musicnn.patches_of_waveform(waveform), rtol=0, atol=1e-4)
    np.testing.assert_allclose(whole["timestamps"], [0.0, 2.992, 5.984], atol=1e-6)
    exported = export.load(export.export(run, tmp_path / "export").path)
    assert (exported.example_samples, exported.hop_samples, exported.edge_samples) == (48128, 47872, 256)
    np.testing.assert_allclose(exported(waveform)["probabilities"], whole["probabilities"], atol=1e-5)
    streamed, _, _ = predict.score(exported, predict.Clip(exported, audio.waveform(waveform, 16000),
                                                          block_seconds=1.3))
    np.testing.assert_allclose(streamed, whole["probabilities"], atol=1e-5)
