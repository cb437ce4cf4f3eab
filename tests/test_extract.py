"""airtf-extract: batching across files, streaming, outputs, and bad input."""

import json
import os

import numpy as np
import pytest
import soundfile as sf

import reference_frontend
from airtf import audio, params, vggish
from airtf.cli import extract as extract_cli
from airtf.errors import AudioTooShortWarning, SilentAudioWarning
from airtf.features import extract


def tone(seconds, sample_rate=44100, channels=2, seed=0):
    """A chord with some noise, so that every example differs."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    mono = sum(0.2 * np.sin(2 * np.pi * f * t * (1 + 0.01 * t)) for f in rng.uniform(100, 3000, 3))
    mono += 0.02 * rng.standard_normal(len(t))
    return np.stack([mono * (1 - 0.3 * c) for c in range(channels)], axis=1).astype(np.float32)


def features(path):
    with open(path) as stream:
        data = json.load(stream)
    return np.asarray(data["features"]), data["time_points"]


def test_real_clip_matches_released_layout(shared_data, openmic_clip, tmp_path):
    code = extract_cli.main([str(openmic_clip), "--out", str(tmp_path), "--output", "pca", "--weights", "random",
                             "--pca-params", str(shared_data / "vggish" / "vggish_pca_params.npz"), "--quiet"])
    assert code == 0
    released, released_times = features(shared_data / "openmic" / "vggish" / "000" / "000046_3840.json")
    ours, our_times = features(tmp_path / "pca" / "000046_3840.json")
    assert our_times == released_times and len(our_times) == 10
    assert ours.shape == released.shape == (10, 128)
    assert ours.dtype.kind == "i" and ours.min() >= 0 and ours.max() <= 255


def test_logmel_output_is_the_official_front_end(openmic_clip, tmp_path):
    assert extract_cli.main([str(openmic_clip), "--out", str(tmp_path), "--output", "logmel", "--quiet"]) == 0
    ours, _ = features(tmp_path / "logmel" / "000046_3840.json")
    samples, sample_rate = sf.read(openmic_clip, dtype="float64")
    import resampy
    waveform = resampy.resample(samples.mean(axis=1), sample_rate, params.SAMPLE_RATE)
    np.testing.assert_allclose(ours, reference_frontend.examples(waveform), rtol=1e-4, atol=1e-4)


def test_example_segments_equal_whole_waveform_framing():
    rng = np.random.default_rng(1)
    waveform = rng.standard_normal(5 * params.EXAMPLE_HOP_SAMPLES + 9000).astype(np.float32)
    cuts = np.sort(rng.choice(len(waveform), 12, replace=False))
    blocks = np.split(waveform, cuts)
    pieces = [vggish.waveform_to_examples(segment) for segment in audio.example_segments(blocks)]
    np.testing.assert_allclose(np.concatenate(pieces), vggish.waveform_to_examples(waveform), atol=1e-5)


@pytest.mark.parametrize("length, pad, expected", [(15599, False, 0), (15599, True, 1), (15600, False, 1),
                                                    (40000, True, 2)])
def test_example_segments_pad_only_short_audio(length, pad, expected):
    segments = list(audio.example_segments([np.ones(length, np.float32)], pad=pad))
    assert sum(len(vggish.waveform_to_examples(s)) for s in segments) == expected


@pytest.fixture(scope="module")
def backbone():
    return vggish.from_preset("random", seed=3)


def test_library_warns_on_short_and_silent_audio(tmp_path):
    sf.write(tmp_path / "short.wav", tone(0.5, 16000, channels=1), 16000)
    sf.write(tmp_path / "silent.wav", np.zeros(20000, np.float32), 16000)
    with pytest.warns(AudioTooShortWarning, match="short.wav"):
        extract.Extractor("logmel").run([(tmp_path / "short.wav", tmp_path / "short.json")])
    with pytest.warns(SilentAudioWarning, match="silent.wav"):
        extract.Extractor("logmel").run([(tmp_path / "silent.wav", tmp_path / "silent.json")])


def test_batches_across_files_give_per_file_results(backbone, tmp_path):
    lengths = [3.3, 1.0, 7.9, 2.5]  # examples: 3, 1, 8, 2
    jobs = []
    for index, seconds in enumerate(lengths):
        path = tmp_path / f"clip{index}.wav"
        sf.write(path, tone(seconds, 22050, seed=index), 22050)
        jobs.append((path, tmp_path / "out" / f"clip{index}.json"))
    report = extract.Extractor("embedding", backbone, batch_size=5, block_seconds=2.0).run(jobs)
    assert not report.failed and report.examples == 14
    for path, target in jobs:
        expected = backbone.predict(vggish.waveform_to_examples(*sf.read(path, dtype="float32")), verbose=0)
        got, times = features(target)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
        assert times == vggish.example_time_points(len(expected))


def test_long_file_streams_in_blocks(tmp_path):
    path = tmp_path / "long.flac"
    sf.write(path, tone(61.0, 44100, channels=1), 44100)
    report = extract.Extractor("logmel", block_seconds=4.0).run([(path, tmp_path / "long.npz")])
    assert report.examples == 63
    streamed = np.load(tmp_path / "long.npz")["features"]
    whole = vggish.waveform_to_examples(*sf.read(path, dtype="float32"))
    np.testing.assert_allclose(streamed, whole, atol=1e-4)


def test_bad_files_are_reported_and_the_rest_goes_on(tmp_path, capsys):
    audio = tmp_path / "audio"
    audio.mkdir()
    sf.write(audio / "good.wav", tone(2.0, 16000, channels=1), 16000)
    sf.write(audio / "short.wav", tone(0.5, 16000, channels=1), 16000)
    sf.write(audio / "silent.ogg", np.zeros((32000, 2), np.float32), 16000)
    (audio / "empty.wav").write_bytes(b"")
    (audio / "corrupt.ogg").write_bytes(np.random.default_rng(0).bytes(5000))
    out = tmp_path / "out"
    code = extract_cli.main([str(audio), "--out", str(out), "--output", "logmel", "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "error: " + str(audio / "empty.wav") in err and "error: " + str(audio / "corrupt.ogg") in err
    assert "warning: " + str(audio / "short.wav") in err and "0.500 s is shorter than one example, which needs 0.975 s" in err
    assert "warning: " + str(audio / "silent.ogg") in err and "2 of 5 files failed" in err
    assert sorted(p.name for p in (out / "logmel").iterdir()) == ["good.json", "silent.json"]  # short: no examples
    silent, _ = features(out / "logmel" / "silent.json")
    np.testing.assert_allclose(silent, np.log(params.LOG_OFFSET), rtol=1e-6)


def test_existing_outputs_are_kept_unless_overwrite(tmp_path, capsys):
    clip = tmp_path / "a.wav"
    sf.write(clip, tone(2.0, 16000, channels=1), 16000)
    target = tmp_path / "out" / "logmel" / "a.json"
    target.parent.mkdir(parents=True)
    target.write_text("precious")
    assert extract_cli.main([str(clip), "--out", str(tmp_path / "out"), "--output", "logmel", "--quiet"]) == 0
    assert target.read_text() == "precious" and "kept 1 existing" in capsys.readouterr().out
    assert extract_cli.main([str(clip), "--out", str(tmp_path / "out"), "--output", "logmel", "--quiet",
                             "--overwrite"]) == 0
    assert features(target)[0].shape == (2, 96, 64)
    assert [p.name for p in target.parent.iterdir()] == ["a.json"]  # no temporary left behind


def test_clashing_output_names_are_refused(tmp_path, capsys):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        sf.write(tmp_path / folder / "same.wav", tone(1.0, 16000, 1), 16000)
    code = extract_cli.main([str(tmp_path / "x" / "same.wav"), str(tmp_path / "y" / "same.wav"),
                             "--out", str(tmp_path / "out"), "--output", "logmel"])
    assert code == 2 and "same.wav" in capsys.readouterr().err


def test_missing_official_weights_say_how_to_get_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AIRTF_MODELS", str(tmp_path / "models"))
    clip = tmp_path / "a.wav"
    sf.write(clip, tone(1.0, 16000, 1), 16000)
    assert extract_cli.main([str(clip), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "airtf-weights fetch" in err and "--weights random" in err


def test_many_files_too_short_make_a_few_lines_and_the_summary_counts_them(tmp_path, capsys):
    audio = tmp_path / "audio"
    audio.mkdir()
    short = tone(0.2, 16000, channels=1)
    for index in range(60):
        sf.write(audio / f"short-{index:02d}.wav", short, 16000)
    sf.write(audio / "good.wav", tone(2.0, 16000, channels=1), 16000)
    out = tmp_path / "out"
    assert extract_cli.main([str(audio), "--out", str(out), "--output", "logmel", "--quiet"]) == 0
    captured = capsys.readouterr()
    warnings_printed = captured.err.strip().splitlines()
    assert len(warnings_printed) <= 10
    assert warnings_printed[0].endswith("so it has no features; pass --pad to zero-pad such files to one example")
    assert sum("short-" in line for line in warnings_printed) == 3
    assert warnings_printed[-1] == ("airtf-extract: warning: and 57 more files shorter than one example (60 in all); "
                                    "pass --pad to zero-pad such files to one example")
    assert captured.out.strip().endswith("; 60 shorter than one example, not written (--pad zero-pads them to one)")
    assert captured.out.startswith("wrote 1 files (2 examples)")
    assert [path.name for path in (out / "logmel").iterdir()] == ["good.json"]


def test_a_file_name_that_is_not_utf8_is_extracted_and_printed_escaped(tmp_path, capfdbinary):
    sf.write(tmp_path / "good.wav", tone(2.0, 16000, channels=1), 16000)
    named = tmp_path / os.fsdecode(b"caf\xe9.wav")
    named.write_bytes((tmp_path / "good.wav").read_bytes())
    broken = tmp_path / os.fsdecode(b"bad\xff.wav")
    broken.write_bytes(b"not audio")
    out = tmp_path / "out"
    assert extract_cli.main([str(named), str(broken), str(tmp_path / "good.wav"), "--out", str(out),
                             "--output", "logmel", "--quiet"]) == 1
    err = capfdbinary.readouterr().err.decode("utf-8")  # printable: no stray bytes
    assert "bad\\xff.wav: cannot decode" in err
    assert (out / "logmel" / os.fsdecode(b"caf\xe9.json")).read_bytes() == (out / "logmel" / "good.json").read_bytes()


@pytest.mark.slow
def test_pca_features_equal_the_official_per_file_process_with_an_official_format_checkpoint(shared_data,
                                                                                              openmic_clip, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    import tf1_vggish

    repository = Path(__file__).resolve().parents[1]
    checkpoint = tmp_path / "vggish_model.ckpt"
    tf1_vggish.write_checkpoint(checkpoint, np.zeros((1, 96, 64), np.float32), "V1", seed=3)
    pca_params = shared_data / "vggish" / "vggish_pca_params.npz"
    subprocess.run([sys.executable, str(repository / "tools" / "official_extract.py"), str(openmic_clip),
                    "--checkpoint", str(checkpoint), "--pca-params", str(pca_params), "--out", str(tmp_path / "official")],
                   check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert extract_cli.main([str(openmic_clip), "--out", str(tmp_path), "--output", "pca", "--weights",
                             str(checkpoint), "--pca-params", str(pca_params), "--quiet"]) == 0
    ours, _ = features(tmp_path / "pca" / "000046_3840.json")
    official = np.load(tmp_path / "official" / "000046_3840.npy")
    assert ours.shape == official.shape == (10, 128) and len(np.unique(official)) > 50
    assert np.abs(ours.astype(int) - official.astype(int)).max() <= 1
