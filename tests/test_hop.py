"""--hop: examples closer than the model's own hop overlap, the default's examples among them."""

import json

import numpy as np
import pytest

import airtf
from airtf.cli import extract as extract_cli
from airtf.errors import AirtfError


def test_half_the_hop_gives_every_default_example_and_one_between_each(openmic_clip):
    default, default_times = airtf.embed(openmic_clip, output="logmel")
    halved, times = airtf.embed(openmic_clip, output="logmel", hop=0.48)
    assert len(default) == 10 and len(halved) == 2 * len(default) - 1
    np.testing.assert_array_equal(halved[::2], default)
    np.testing.assert_array_equal(halved[1, :48], default[0, 48:])  # the one between overlaps both halves
    assert times[::2] == default_times and times[1] == 0.48


def test_musicnn_patches_overlap_at_a_shorter_hop(openmic_clip):
    from airtf import audio, musicnn

    overlapping, times = airtf.embed(openmic_clip, output="logmel", weights="musicnn-mtt", hop=1.504)
    assert len(overlapping) == 5 and times == [0.0, 1.5, 3.01, 4.51, 6.02]
    whole = np.pad(audio.read(openmic_clip), 256, mode="reflect")  # the waveform in memory, its edges mirrored
    expected = np.asarray(musicnn.MusicnnPatches(hop_frames=94)(whole))  # 94 frames of 16 ms: 1.504 s
    np.testing.assert_allclose(overlapping, expected, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(overlapping[1, :93], overlapping[0, 94:])


@pytest.mark.parametrize("hop, step", [(0.015, "0.01"), (0.5, "0.016")])
def test_a_hop_off_the_frames_is_a_one_line_error(openmic_clip, hop, step):
    weights = "random" if step == "0.01" else "musicnn-mtt"
    with pytest.raises(AirtfError, match=f"--hop {hop}: .* give a positive multiple of {step} s"):
        airtf.embed(openmic_clip, weights=weights, hop=hop)


def test_extract_writes_the_hop_in_its_time_points(openmic_clip, tmp_path):
    assert extract_cli.main([str(openmic_clip), "--out", str(tmp_path), "--output", "logmel", "--hop", "0.24",
                             "--quiet"]) == 0
    written = json.loads((tmp_path / "logmel" / f"{openmic_clip.stem}.json").read_text())
    frames = 1 + (10 * 16000 - 400) // 160  # 998 frames of 10 ms
    assert len(written["features"]) == 1 + (frames - 96) // 24 and written["time_points"][:3] == [0.0, 0.24, 0.48]


@pytest.mark.slow
def test_feature_sets_take_a_hop_where_a_backbone_reads_audio(tmp_path):
    from airtf.datasets.openmic import OpenMIC
    from airtf.demo import sets as demo
    from airtf.features import feature_sets

    halved = feature_sets.parse("random", hop=0.48)
    assert halved.frame_shape == (19, 128) and halved.spec["frontend"]["hop_frames"] == 48
    assert feature_sets.parse("random").frame_shape == (10, 128)
    assert feature_sets.parse("musicnn-mtt", hop=1.504).frame_shape == (5, 753)
    for features, reason in (("logmel", "would repeat its frames"), ("pca", "the release's features")):
        message = f"--hop does not apply to --features {features}: .*{reason}"
        with pytest.raises(feature_sets.FeatureError, match=message):
            feature_sets.parse(features, hop=0.48)
    demo.render_openmic(tmp_path / "openmic", clips=4, seed=5)
    openmic = OpenMIC(tmp_path / "openmic")
    key = openmic.partitions["train"][0]
    frames = halved.compute(openmic, [key], tmp_path / "cache")
    expected, _ = airtf.embed(openmic.audio_path(key), weights="random", hop=0.48)
    assert frames.shape == (1, 19, 128)
    np.testing.assert_allclose(frames[0], expected[:19], rtol=0, atol=1e-5)


@pytest.mark.slow
def test_a_run_directory_predicts_at_another_hop_and_an_export_keeps_its_own(tmp_path, shared_data, openmic_clip):
    from airtf import audio
    from airtf.serve import export
    from test_export import make_run, openmic_class_names

    run_dir = make_run(tmp_path / "run", "random", openmic_class_names(shared_data))
    default, halved = export.load(run_dir), export.load(run_dir, hop=0.48)
    assert (default.frame_hop_seconds, halved.frame_hop_seconds) == (0.96, 0.48)
    waveform = audio.read(openmic_clip)
    ours, theirs = halved(waveform), default(waveform)
    assert len(ours["timestamps"]) == 19 and ours["timestamps"][1] == pytest.approx(0.48)
    np.testing.assert_allclose(ours["features"][::2], theirs["features"], rtol=0, atol=1e-5)
    exported = export.export(run_dir, tmp_path / "export", hop=0.48).path
    assert export.load(exported).frame_hop_seconds == pytest.approx(0.48)
    with pytest.raises(export.ExportError, match="an export holds its own features model, so --hop does not apply"):
        export.load(exported, hop=0.96)
