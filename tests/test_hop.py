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
