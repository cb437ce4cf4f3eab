"""Demo data sets: released layouts, labels true by construction, determinism, bad input."""

import collections
import csv
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from airtf.cli import data as data_cli
from airtf.demo import DEFAULT_SIZES, gm, music, qualities
from airtf.demo import sets as demo
from airtf.demo.synth import SoundFont
from airtf.errors import AirtfError

SIZES = {"openmic": 4, "nsynth": 9, "freesound": 6}
CLASSES = ["accordion", "banjo", "bass", "cello", "clarinet", "cymbals", "drums", "flute", "guitar",
           "mallet_percussion", "mandolin", "organ", "piano", "saxophone", "synthesizer", "trombone", "trumpet",
           "ukulele", "violin", "voice"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    demo.render_demo(out, sizes=SIZES, seed=3)
    return out


@pytest.fixture(scope="module")
def font():
    return SoundFont()


@pytest.fixture(scope="module")
def font16k():
    return SoundFont(sample_rate=qualities.SAMPLE_RATE)


def read_csv(path):
    with open(path, newline="") as stream:
        return list(csv.reader(stream))


def rms(audio):
    return float(np.sqrt(np.mean(np.square(audio))))


# ---------------------------------------------------------------- OpenMIC

def openmic_npz(folder):
    with np.load(folder / "openmic-2018.npz") as archive:
        return {key: archive[key] for key in archive.files}


def test_openmic_layout(rendered):
    folder = rendered / "openmic"
    arrays = openmic_npz(folder)
    keys = list(arrays["sample_key"])
    assert sorted(arrays) == ["Y_mask", "Y_true", "sample_key"]  # no X without a VGGish
    assert arrays["sample_key"].dtype.kind == "U" and keys == sorted(keys) and len(keys) == SIZES["openmic"]
    assert arrays["Y_true"].shape == (4, 20) and arrays["Y_true"].dtype == np.float32
    assert arrays["Y_mask"].shape == (4, 20) and arrays["Y_mask"].dtype == bool
    assert json.loads((folder / "class-map.json").read_text()) == {name: i for i, name in enumerate(CLASSES)}
    assert not (folder / "vggish").exists()
    for key in keys:
        assert re.fullmatch(r"\d{6}_\d+", key) and int(key.split("_")[1]) % 960 == 0
        info = sf.info(folder / "audio" / key[:3] / f"{key}.ogg")
        assert (info.format, info.subtype, info.samplerate, info.channels, info.frames) == (
            "OGG", "VORBIS", 44100, 2, 441000)
    train = (folder / "partitions" / "split01_train.csv").read_text().split()
    test = (folder / "partitions" / "split01_test.csv").read_text().split()
    assert sorted(train + test) == keys and len(train) == 3 and not set(train) & set(test)


def test_openmic_class_map_is_the_real_one(shared_data):
    real = json.loads((shared_data / "openmic" / "class-map.json").read_text())
    assert {name: i for i, name in enumerate(demo.OPENMIC_CLASSES)} == real


def test_openmic_labels_match_csv_and_what_plays(rendered):
    folder = rendered / "openmic"
    arrays = openmic_npz(folder)
    rows = read_csv(folder / "openmic-2018-aggregated-labels.csv")
    assert rows[0] == ["sample_key", "instrument", "relevance", "num_responses"]
    mask = np.zeros((4, 20), bool)
    expected = np.full((4, 20), 0.5, np.float32)
    keys = list(arrays["sample_key"])
    for key, name, relevance, responses in rows[1:]:
        row, column = keys.index(key), CLASSES.index(name)
        mask[row, column] = True
        expected[row, column] = float(relevance)
        assert 0 <= float(relevance) <= 1 and int(responses) >= 1
    np.testing.assert_array_equal(arrays["Y_mask"], mask)
    np.testing.assert_array_equal(arrays["Y_true"], expected)
    contents = json.loads((folder / demo.MARKER).read_text())["contents"]
    for row, key in enumerate(keys):
        present = {player["instrument"] for player in contents[key]}
        positives = {CLASSES[c] for c in np.flatnonzero(mask[row] & (arrays["Y_true"][row] >= 0.5))}
        negatives = {CLASSES[c] for c in np.flatnonzero(mask[row] & (arrays["Y_true"][row] < 0.5))}
        assert positives == present and 1 <= len(present) <= 4
        assert negatives and not negatives & present
        assert mask[row].sum() < 10  # most classes stay unknown


def test_openmic_players_are_audible_while_they_play(font):
    available = demo.openmic_voicings(font)
    assert set(available) == set(CLASSES)
    for seed in range(4):
        mix, players = demo.openmic_clip(font, np.random.default_rng(seed), available, seconds=4.0)
        assert players and rms(mix) > 0.01
        for player in players:
            audio = font.render(player.part, 4.0)
            first = min(note.start for note in player.part.notes)
            last = max(note.start + note.duration for note in player.part.notes)
            assert rms(audio[int(first * 44100):int(min(last, 4.0) * 44100)]) > 1e-3, player


def test_negatives_skip_classes_that_share_samples():
    for seed in range(20):
        labels = demo.openmic_annotations(np.random.default_rng(seed), ["guitar"])
        negatives = {name for name, (relevance, _) in labels.items() if relevance < 0.5}
        assert not negatives & {"guitar", "mandolin", "ukulele"}
        assert labels["guitar"][0] >= 0.67


def test_weights_random_fill_x_and_vggish_json(tmp_path):
    pca = tmp_path / "pca.npz"
    eigen_vectors = np.linalg.qr(np.random.default_rng(0).standard_normal((128, 128)))[0]
    np.savez(pca, pca_means=np.zeros(128), pca_eigen_vectors=eigen_vectors)
    code = data_cli.main(["demo", "--out", str(tmp_path / "out"), "--sets", "openmic", "--openmic-clips", "2",
                          "--weights", "random", "--pca-params", str(pca), "--quiet"])
    assert code == 0
    folder = tmp_path / "out" / "openmic"
    arrays = openmic_npz(folder)
    assert arrays["X"].shape == (2, 10, 128) and arrays["X"].dtype == np.uint8
    for key, features in zip(arrays["sample_key"], arrays["X"]):
        stored = json.loads((folder / "vggish" / key[:3] / f"{key}.json").read_text())
        np.testing.assert_array_equal(np.array(stored["features"]), features)
        assert len(stored["time_points"]) == 10


# ---------------------------------------------------------------- NSynth

def test_nsynth_layout(rendered):
    folder = rendered / "nsynth"
    instruments = {}
    total = 0
    for split in ("train", "valid", "test"):
        examples = json.loads((folder / f"nsynth-{split}" / "examples.json").read_text())
        assert examples, split
        total += len(examples)
        for note_str, example in examples.items():
            assert example["note_str"] == note_str
            assert re.fullmatch(r"[a-z_]+_(acoustic|electronic|synthetic)_\d{3}-\d{3}-\d{3}", note_str)
            assert note_str == f"{example['instrument_str']}-{example['pitch']:03d}-{example['velocity']:03d}"
            assert gm.FAMILIES[example["instrument_family"]] == example["instrument_family_str"]
            assert gm.SOURCES[example["instrument_source"]] == example["instrument_source_str"]
            assert example["instrument_str"].startswith(f"{example['instrument_family_str']}_"
                                                        f"{example['instrument_source_str']}_")
            assert len(example["qualities"]) == 10 and example["sample_rate"] == 16000
            assert example["qualities_str"] == [name for name, on in zip(qualities.QUALITIES, example["qualities"])
                                                if on]
            assert instruments.setdefault(example["instrument_str"], split) == split  # splits by instrument
            info = sf.info(folder / f"nsynth-{split}" / "audio" / f"{note_str}.wav")
            assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 64000, "PCM_16")
    assert total == SIZES["nsynth"]


def spectral_centroid(audio, rate=qualities.SAMPLE_RATE):
    magnitude = np.abs(np.fft.rfft(audio))
    return float(np.sum(magnitude * np.fft.rfftfreq(len(audio), 1 / rate)) / np.sum(magnitude))


def envelope(audio, frame=160):
    frames = audio[:len(audio) // frame * frame].reshape(-1, frame)
    return np.sqrt(np.mean(frames ** 2, axis=1))


def decay_time(audio, drop_db=40):
    """Seconds until the 10 ms envelope falls for good ``drop_db`` below its peak."""
    level = envelope(audio)
    return np.flatnonzero(level > level.max() * 10 ** (-drop_db / 20))[-1] * 0.01


def last_second_share(audio):
    return float(np.sum(audio[-qualities.SAMPLE_RATE:] ** 2) / np.sum(audio ** 2))


def note(font16k, program, *choices, pitch=60, seed=11):
    return qualities.render_note(font16k, qualities.Patch(program, frozenset(choices), seed), pitch, 100)


@pytest.mark.parametrize("program", [19, 73])  # church organ, flute: sustained
def test_qualities_are_real(font16k, program):
    plain = note(font16k, program)
    assert plain.shape == (64000,) and plain.dtype == np.float32 and rms(plain) > 0.01
    assert spectral_centroid(note(font16k, program, "dark")) < 0.7 * spectral_centroid(plain)
    assert spectral_centroid(note(font16k, program, "bright")) > 1.3 * spectral_centroid(plain)
    assert spectral_centroid(note(font16k, program, "distortion")) > 1.2 * spectral_centroid(plain)
    assert decay_time(note(font16k, program, "reverb")) > decay_time(plain) + 0.3
    assert last_second_share(note(font16k, program, "fast_decay")) < 0.01 * last_second_share(plain)
    assert last_second_share(note(font16k, program, "long_release")) > 3 * last_second_share(plain)
    held = slice(50, 290)  # 0.5 s to 2.9 s: the key is down
    gated = envelope(note(font16k, program, "tempo-synced"))[held]
    assert np.mean(gated < 0.1 * gated.max()) > 0.2 > np.mean(envelope(plain)[held] < 0.1 * gated.max())


def seed_where(condition):
    """The first patch seed whose settings satisfy ``condition``."""
    return next(seed for seed in range(100) if condition(qualities._Settings.draw(seed)))


def envelope_variation(audio):
    level = envelope(audio)[50:290]  # while the key is down
    return level.std() / level.mean()


def pitch_variation(audio, f0):
    """Standard deviation (Hz) of the strongest frequency near ``f0`` over 128 ms frames."""
    frequencies = np.fft.rfftfreq(8 * 2048, 1 / qualities.SAMPLE_RATE)
    band = (frequencies > 0.85 * f0) & (frequencies < 1.15 * f0)
    peaks = [frequencies[band][np.argmax(np.abs(np.fft.rfft(audio[i:i + 2048] * np.hanning(2048), 8 * 2048))[band])]
             for i in range(8000, 46000, 800)]
    return np.std(peaks)


def test_nonlinear_env_and_multiphonic_are_real(font16k):
    organ, pitch, f0 = 19, 72, 440 * 2 ** (3 / 12)
    plain = note(font16k, organ, pitch=pitch)
    tremolo = note(font16k, organ, "nonlinear_env", pitch=pitch, seed=seed_where(lambda s: s.use_tremolo))
    assert envelope_variation(tremolo) > 0.2 > 5 * envelope_variation(plain)
    vibrato = note(font16k, organ, "nonlinear_env", pitch=pitch, seed=seed_where(lambda s: not s.use_tremolo))
    assert pitch_variation(vibrato, f0) > 3.0 > 10 * pitch_variation(plain, f0)
    detuned = note(font16k, organ, "multiphonic", pitch=pitch, seed=seed_where(lambda s: not s.use_dyad))
    assert envelope_variation(detuned) > 0.1  # the two layers beat
    dyad_seed = seed_where(lambda s: s.use_dyad)
    upper = f0 * 2 ** (qualities._Settings.draw(dyad_seed).interval / 12)
    spectrum = np.abs(np.fft.rfft(note(font16k, organ, "multiphonic", pitch=pitch, seed=dyad_seed)))
    plain_spectrum = np.abs(np.fft.rfft(plain))
    near = np.abs(np.fft.rfftfreq(64000, 1 / qualities.SAMPLE_RATE) - upper) < 0.01 * upper
    assert spectrum[near].max() > 0.3 * spectrum.max() and plain_spectrum[near].max() < 0.05 * plain_spectrum.max()


def test_percussive_comes_from_the_program():
    assert "percussive" in qualities.Patch(12, frozenset(), 0).qualities  # marimba
    assert "percussive" not in qualities.Patch(19, frozenset(), 0).qualities  # church organ
    rng = np.random.default_rng(0)
    patches = [qualities.random_patch(rng, 0) for _ in range(200)]
    assert all("long_release" not in patch.choices for patch in patches)  # piano is percussive
    assert not any({"bright", "dark"} <= patch.choices for patch in patches)


@pytest.mark.parametrize("seed", range(6))
def test_every_nsynth_split_holds_every_quality_at_the_default_size(font16k, seed):
    plan = demo.nsynth_plan(seed, demo._available_programs(font16k), DEFAULT_SIZES["nsynth"])
    notes = {split: collections.Counter() for split in demo.NSYNTH_SPLITS}
    for note in plan:
        notes[note.split].update(note.instrument.patch.qualities)
    assert {split: len(counts) for split, counts in notes.items()} == {split: 10 for split in demo.NSYNTH_SPLITS}
    assert min(notes["train"].values()) >= 8
    assert min(notes["valid"].values()) >= 2 and min(notes["test"].values()) >= 2
    assert len({note.instrument.program.family for note in plan if note.split == "valid"}) > 1


def test_covering_patches_respect_what_programs_allow():
    rng = np.random.default_rng(1)
    programs = [0, 19, 12, 40, 73]  # piano, church organ, marimba, violin, flute
    for copies in (1, 2):
        patches = qualities.covering_patches(rng, programs, copies)
        applied = collections.Counter(choice for patch in patches for choice in patch.choices)
        assert all(applied[choice] >= copies for choice in qualities.CHANCES)
        assert not any({"bright", "dark"} <= patch.choices or {"fast_decay", "long_release"} <= patch.choices
                       for patch in patches)
        assert all("long_release" not in patch.choices for patch in patches if gm.PROGRAMS[patch.program].percussive)


# ---------------------------------------------------------------- Freesound

def test_freesound_layout(rendered):
    folder = rendered / "freesound"
    rows = read_csv(folder / "tags.csv")
    assert rows[0] == ["sound_id", "tags"] and len(rows) == SIZES["freesound"] + 1
    ids = [row[0] for row in rows[1:]]
    assert sorted(path.stem for path in (folder / "audio").glob("*.ogg")) == sorted(ids)
    for sound_id, tags in rows[1:]:
        words = tags.split(" ")
        assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", word) for word in words), tags
        assert any(word.endswith("-bpm") for word in words)
        assert "drum-loop" in words or {"low", "mid", "high"} & set(words)
        audio, rate = sf.read(folder / "audio" / f"{sound_id}.ogg")
        assert rate == 44100 and audio.ndim == 1 and 2 <= len(audio) / rate <= 6 and rms(audio) > 0.01


# ---------------------------------------------------------------- music

def test_material_stays_in_key_and_register():
    rng = np.random.default_rng(5)
    song = music.random_song(rng, 10.0)
    scale = set(song.scale_pitches(0, 127))
    for role, function in music.ROLES.items():
        notes = function(song, rng, 48, 72)
        assert notes and all(48 <= n.pitch <= 72 and n.pitch in scale and 1 <= n.velocity <= 127 for n in notes)
        assert all(0 <= n.start < 10.0 for n in notes), role
    drums = {n.pitch for n in music.drum_beat(song, rng)}
    cymbals = {n.pitch for n in music.cymbal_beat(song, rng)}
    assert drums <= {p for notes in gm.DRUM_NOTES.values() for p in notes}
    assert cymbals <= {p for notes in gm.CYMBAL_NOTES.values() for p in notes}


# ---------------------------------------------------------------- determinism and bad input

@pytest.mark.slow
def test_same_seed_gives_identical_sets(rendered, tmp_path):
    """A second render, in another process with other string hashing, through the command line."""
    command = [sys.executable, "-m", "airtf.cli.data", "demo", "--out", str(tmp_path), "--seed", "3", "--quiet",
               "--openmic-clips", str(SIZES["openmic"]), "--nsynth-notes", str(SIZES["nsynth"]),
               "--freesound-clips", str(SIZES["freesound"])]
    subprocess.run(command, check=True, env={**os.environ, "PYTHONHASHSEED": "123"}, capture_output=True)
    for name in ("openmic/openmic-2018-aggregated-labels.csv", "openmic/class-map.json",
                 "openmic/partitions/split01_train.csv", "openmic/partitions/split01_test.csv",
                 "nsynth/nsynth-train/examples.json", "nsynth/nsynth-test/examples.json", "freesound/tags.csv",
                 demo.MARKER.join(["openmic/", ""])):
        assert (tmp_path / name).read_bytes() == (rendered / name).read_bytes(), name
    ours, theirs = openmic_npz(tmp_path / "openmic"), openmic_npz(rendered / "openmic")
    assert all(np.array_equal(ours[key], theirs[key]) for key in theirs)
    audio = sorted(p.relative_to(rendered) for p in rendered.rglob("*") if p.suffix in (".ogg", ".wav"))
    assert audio == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.suffix in (".ogg", ".wav"))
    for path in audio:
        np.testing.assert_array_equal(sf.read(tmp_path / path)[0], sf.read(rendered / path)[0])


def test_other_seed_gives_other_labels(rendered, tmp_path):
    demo.render_demo(tmp_path, sets=["openmic"], sizes=SIZES, seed=4)
    name = "openmic/openmic-2018-aggregated-labels.csv"
    assert (tmp_path / name).read_bytes() != (rendered / name).read_bytes()


@pytest.mark.parametrize("content", [None, b"not a soundfont", b"RIFF\x00\x01\x00\x00sfbk"])
def test_bad_soundfont_is_a_clear_error(tmp_path, capsys, content):
    path = tmp_path / "broken.sf2"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AirtfError, match=re.escape(str(path)) + ".*--soundfont"):
        demo.render_nsynth(tmp_path / "out", notes=3, soundfont=path)
    assert not (tmp_path / "out").exists()
    assert data_cli.main(["demo", "--out", str(tmp_path / "out"), "--soundfont", str(path), "--quiet"]) == 2
    assert str(path) in capsys.readouterr().err


def test_existing_sets_are_kept_without_overwrite(tmp_path):
    demo.render_freesound(tmp_path / "freesound", clips=2, seed=1)
    before = (tmp_path / "freesound" / "tags.csv").read_bytes()
    with pytest.raises(AirtfError, match="--overwrite"):
        demo.render_demo(tmp_path, sets=["nsynth", "freesound"], sizes={"nsynth": 3, "freesound": 3}, seed=2)
    assert not (tmp_path / "nsynth").exists()  # nothing rendered before the check
    assert (tmp_path / "freesound" / "tags.csv").read_bytes() == before
    demo.render_freesound(tmp_path / "freesound", clips=3, seed=2, overwrite=True)
    assert len(read_csv(tmp_path / "freesound" / "tags.csv")) == 4
    assert len(list((tmp_path / "freesound" / "audio").glob("*.ogg"))) == 3  # the old clips are gone


def test_overwrite_never_deletes_foreign_folders(tmp_path):
    (tmp_path / "openmic").mkdir()
    (tmp_path / "openmic" / "openmic-2018.npz").write_bytes(b"the real data set")
    with pytest.raises(AirtfError, match="no demo render made"):
        demo.render_openmic(tmp_path / "openmic", clips=1, overwrite=True)
    assert (tmp_path / "openmic" / "openmic-2018.npz").read_bytes() == b"the real data set"


def test_cli(tmp_path, capsys):
    code = data_cli.main(["demo", "--out", str(tmp_path), "--openmic-clips", "1", "--nsynth-notes", "3",
                          "--freesound-clips", "1", "--seed", "9", "--quiet"])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [str(tmp_path / name) for name in demo.SETS]
    assert "X and vggish/ left out" in lines[0]
    with pytest.raises(SystemExit):
        data_cli.main(["demo", "--out", str(tmp_path), "--sets", "openmic,mirex"])


@pytest.mark.slow
def test_check_reads_every_demo_set_back(tmp_path, capsys):
    from airtf.cli import data as data_cli

    assert data_cli.main(["demo", "--out", str(tmp_path), "--openmic-clips", "3", "--nsynth-notes", "12",
                          "--freesound-clips", "4", "--quiet"]) == 0
    capsys.readouterr()
    assert data_cli.main(["check", "--openmic", str(tmp_path / "openmic"), "--nsynth", str(tmp_path / "nsynth"),
                          "--freesound", str(tmp_path / "freesound")]) == 0
    out = capsys.readouterr().out
    assert "3 clips, 20 classes" in out and "log-mel (10, 96, 64)" in out
    assert sum(int(word) for word in re.findall(r"(\d+) notes;", out)) == 12
    assert "all 4 sounds used" in out
    assert "a demo set (airtf-data demo, seed 0, size 3); demo sets have no released features" in out
    assert "a demo set (airtf-data demo, seed 0, size 12)" in out


def test_check_names_no_demo_set_for_a_released_layout(tmp_path):
    demo.render_openmic(tmp_path / "openmic", clips=1)
    assert demo.describe(tmp_path / "openmic").startswith("a demo set")
    (tmp_path / "openmic" / demo.MARKER).unlink()
    assert demo.describe(tmp_path / "openmic") is None


@pytest.mark.parametrize("out", ["file", "file/below"])
def test_an_out_that_is_a_file_is_one_line(tmp_path, capsys, out):
    (tmp_path / "file").write_text("a user's file")
    assert data_cli.main(["demo", "--out", str(tmp_path / out), "--quiet"]) == 2
    assert capsys.readouterr().err == (f"airtf-data: error: {tmp_path / 'file'}: is a file, not a folder; choose "
                                       "another --out\n")
    assert (tmp_path / "file").read_text() == "a user's file"
