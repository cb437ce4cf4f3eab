"""Freesound tags loader: tags files, vocabulary, skip reporting, the dataset, bad input."""

import json
import warnings

import numpy as np
import pytest
import soundfile as sf

from airtf import audio, vggish
from airtf.datasets import freesound
from airtf.datasets.freesound import SkippedSoundsWarning, Vocabulary
from airtf.datasets.pipeline import DatasetError

TAGS_CSV = """sound_id,tags
101,guitar acoustic Strum
102,"piano,bright,piano"
103,guitar,electric,distortion
104,
105,drum percussive
"""


def tone(seconds, frequency, sample_rate=16000):
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (0.3 * np.sin(2 * np.pi * frequency * t) * (1 + 0.2 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def write_sounds(folder, lengths):
    """Audio files named by sound id: {sound_id: seconds}; alternating wav and flac."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, (sound_id, seconds) in enumerate(lengths.items()):
        suffix = ".wav" if index % 2 == 0 else ".flac"
        sf.write(folder / f"{sound_id}{suffix}", tone(seconds, 200 + 50 * index), 16000)


@pytest.fixture()
def root(tmp_path):
    """tags.csv for 101-105 and audio for 101-104 and 106 (104 and 106 have no tags, 105 no audio)."""
    (tmp_path / "tags.csv").write_text(TAGS_CSV)
    write_sounds(tmp_path / "audio", {"101": 2.5, "102": 0.5, "103": 3.0, "104": 1.0, "106": 1.0})
    return tmp_path


def load_with_skips(root, **options):
    with pytest.warns(SkippedSoundsWarning):
        return freesound.load(root, **options)


def test_csv_tags_space_or_comma_separated(root):
    tags = freesound.read_tags(root / "tags.csv")
    assert tags == {
        "101": ("guitar", "acoustic", "strum"),
        "102": ("piano", "bright"),
        "103": ("guitar", "electric", "distortion"),
        "104": (),
        "105": ("drum", "percussive"),
    }


def test_json_tags(tmp_path):
    path = tmp_path / "tags.json"
    path.write_text(json.dumps({"7": ["Bass", "synth", "bass"], "8": []}))
    assert freesound.read_tags(path) == {"7": ("bass", "synth"), "8": ()}


@pytest.mark.parametrize("name, content, message", [
    ("tags.csv", "id,labels\n1,a\n", "line 1: the header is 'id,labels', expected 'sound_id,tags'"),
    ("tags.csv", "", "line 1: the header is '', expected"),
    ("tags.csv", "sound_id,tags\n1,a\n2,b\n1,c\n", "line 4: sound 1 is listed again \\(first on line 2\\)"),
    ("tags.csv", "sound_id,tags\n,a\n", "line 2: the sound_id is empty"),
    ("tags.json", '{"1": ["a"],', "not valid JSON"),
    ("tags.json", '[["a"]]', "holds a JSON list, not an object"),
    ("tags.json", '{"1": "a b"}', "the tags of sound 1 are 'a b', not a list of strings"),
    ("tags.json", '{"1": ["a", 2]}', "not a list of strings"),
    ("tags.txt", "1 a", "unknown tags file type"),
])
def test_malformed_tags_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DatasetError, match=message) as error:
        freesound.read_tags(path)
    assert str(error.value).startswith(str(path))


def test_vocabulary_is_the_most_frequent_tags_ties_alphabetical():
    sounds = [["b", "a", "c"], ["c", "b", "d"], ["d", "c", "e", "e"], ["a"]]
    assert Vocabulary.from_tags(sounds, size=3).tags == ("c", "a", "b")
    assert Vocabulary.from_tags(sounds, size=10).tags == ("c", "a", "b", "d", "e")
    assert Vocabulary.from_tags(reversed(sounds), size=3).tags == ("c", "a", "b")
    with pytest.raises(ValueError):
        Vocabulary.from_tags(sounds, size=0)


def test_multi_hot():
    vocabulary = Vocabulary(["guitar", "piano", "drum"])
    target = vocabulary.multi_hot(["drum", "kazoo", "guitar"])
    assert target.dtype == np.float32
    np.testing.assert_array_equal(target, [1, 0, 1])


def test_vocabulary_round_trip(tmp_path):
    vocabulary = Vocabulary(["guitar", "piano"])
    vocabulary.save(tmp_path / "vocabulary.json")
    assert Vocabulary.load(tmp_path / "vocabulary.json") == vocabulary


@pytest.mark.parametrize("content, message", [
    ("{", "not valid JSON"),
    ('["a", "b"]', "not a vocabulary"),
    ('{"tags": []}', "not a vocabulary"),
    ('{"tags": ["a", "a"]}', "a tag is listed twice"),
])
def test_malformed_vocabulary_file(tmp_path, content, message):
    path = tmp_path / "vocabulary.json"
    path.write_text(content)
    with pytest.raises(DatasetError, match=f"^{path}: {message}"):
        Vocabulary.load(path)


def test_dataset_elements(root):
    data = load_with_skips(root, vocabulary_size=4)
    assert data.vocabulary.tags == ("guitar", "acoustic", "bright", "distortion")
    example_spec, target_spec = data.dataset.element_spec
    assert example_spec.shape == (96, 64) and example_spec.dtype.name == "float32"
    assert target_spec.shape == (4,) and target_spec.dtype.name == "float32"
    got = list(data.dataset.as_numpy_iterator())
    assert len(got) == 3
    for (example, _), sound_id in zip(got, ["101", "102", "103"]):
        path = next((root / "audio").glob(f"{sound_id}.*"))
        reference = vggish.waveform_to_examples(audio.read(path), pad=True)[0]
        np.testing.assert_allclose(example, reference, atol=1e-5)
    np.testing.assert_array_equal(np.stack([target for _, target in got]), [[1, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 1]])


def test_skipped_sounds_are_counted_and_reported(root):
    with pytest.warns(SkippedSoundsWarning, match="tags.csv: skipped 4 of 6 sounds") as warned:
        report = freesound.load(root, vocabulary=Vocabulary(["guitar", "drum"])).report
    assert (report.total, report.used) == (6, 2)
    assert report.skipped == {"no audio": 1, "no tags": 2, "no tag in vocabulary": 1}
    assert report.examples["no audio"] == ("105",) and report.examples["no tags"] == ("104", "106")
    assert str(warned[0].message).endswith(
        "1 with no audio (e.g. 105); 2 with no tags (e.g. 104, 106); 1 with no tag in vocabulary (e.g. 102)")


def test_sound_without_a_vocabulary_tag_is_skipped(root):
    data = load_with_skips(root, vocabulary=Vocabulary(["guitar"]))
    assert data.report.skipped["no tag in vocabulary"] == 1
    assert data.report.examples["no tag in vocabulary"] == ("102",)
    assert len(list(data.dataset)) == 2


def test_no_warning_when_all_sounds_are_used(tmp_path):
    (tmp_path / "tags.json").write_text(json.dumps({"1": ["a"], "2": ["b"]}))
    write_sounds(tmp_path, {"1": 1.0, "2": 1.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkippedSoundsWarning)
        data = freesound.load(tmp_path)
    assert str(data.report) == "all 2 sounds used" and data.vocabulary.tags == ("a", "b")


def test_saved_vocabulary_gives_the_same_targets(root, tmp_path):
    trained = load_with_skips(root, vocabulary_size=3)
    trained.vocabulary.save(tmp_path / "vocabulary.json")
    evaluated = load_with_skips(root, vocabulary=tmp_path / "vocabulary.json")
    assert evaluated.vocabulary == trained.vocabulary
    targets = [[target for _, target in data.dataset.as_numpy_iterator()] for data in (trained, evaluated)]
    np.testing.assert_array_equal(*targets)


def test_example_choice_and_limit(root):
    every = list(load_with_skips(root, examples="all").dataset.as_numpy_iterator())
    assert len(every) == 2 + 1 + 3  # 2.5 s, 0.5 s padded to one example, 3.0 s
    reference = vggish.waveform_to_examples(audio.read(root / "audio" / "103.wav"))
    np.testing.assert_allclose(np.stack([example for example, _ in every[3:]]), reference, atol=1e-5)
    second = list(load_with_skips(root, examples=[1]).dataset.as_numpy_iterator())
    assert len(second) == 2  # the 0.5 s sound has no second example
    np.testing.assert_allclose(second[1][0], reference[1], atol=1e-5)
    assert len(list(load_with_skips(root, limit=1).dataset)) == 1
    with pytest.raises(ValueError, match="examples="):
        freesound.load(root, examples="middle")


def test_flat_folder_and_explicit_tags_file(tmp_path):
    write_sounds(tmp_path / "clips", {"5": 1.0, "6": 1.0})
    (tmp_path / "labels.csv").write_text("sound_id,tags\n5,kick\n6,snare kick\n")
    data = freesound.load(tmp_path / "clips", tags_file=tmp_path / "labels.csv")
    assert data.vocabulary.tags == ("kick", "snare") and data.report.used == 2


def test_no_tags_file(tmp_path):
    write_sounds(tmp_path / "audio", {"1": 1.0})
    with pytest.raises(DatasetError, match=f"^{tmp_path}: no tags file; put the tags in .*tags.csv"):
        freesound.load(tmp_path)


def test_no_usable_sound(tmp_path):
    (tmp_path / "tags.csv").write_text("sound_id,tags\n1,a\n")
    write_sounds(tmp_path / "audio", {"2": 1.0})
    with pytest.raises(DatasetError, match="no sound has both an audio file .* check that the sound ids match"):
        freesound.load(tmp_path)


def test_two_audio_files_for_one_sound(root):
    sf.write(root / "audio" / "101.flac", tone(1.0, 300), 16000)
    with pytest.raises(DatasetError, match="101.wav: sound 101 also has 101.flac; keep one"):
        freesound.load(root)


def test_demo_set_loads(tmp_path):
    from airtf.demo import sets as demo

    demo.render_freesound(tmp_path, clips=6)
    data = freesound.load(tmp_path)
    tags = freesound.read_tags(tmp_path / "tags.csv")
    assert data.report.used == 6 and set(data.vocabulary.tags) == {tag for each in tags.values() for tag in each}
    targets = np.stack([target for _, target in data.dataset.as_numpy_iterator()])
    np.testing.assert_array_equal(targets, [data.vocabulary.multi_hot(each) for each in tags.values()])
