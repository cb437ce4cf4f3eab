"""The data sets behind one base class (what they may import: tests/test_layout.py)."""


import keras
import numpy as np
import pytest

from airtf.datasets.base import Dataset
from airtf.datasets.freesound import Freesound
from airtf.datasets.nsynth import NSynth
from airtf.datasets.openmic import OpenMIC
from airtf.datasets.pipeline import DatasetError
from test_freesound import TAGS_CSV, write_sounds
from test_nsynth import make_note, write_json_wav
from test_openmic import CLIP_SECONDS, write_release

@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A small OpenMIC release, NSynth (json/wav, three splits) and Freesound set, each with a split to read.

    Three of the OpenMIC clips have audio: its split is their keys.
    """
    root = tmp_path_factory.mktemp("sets")
    write_release(root / "openmic")
    rng = np.random.default_rng(0)
    for split in ("train", "valid", "test"):
        write_json_wav(root / "nsynth", [make_note(index, rng) for index in range(3)], split=split)
    (root / "freesound").mkdir()
    (root / "freesound" / "tags.csv").write_text(TAGS_CSV)
    write_sounds(root / "freesound" / "audio", {"101": 2.5, "102": 0.5, "103": 3.0})
    return {OpenMIC: (root / "openmic", list(CLIP_SECONDS)), NSynth: (root / "nsynth", "valid"),
            Freesound: (root / "freesound", "all")}


@pytest.mark.parametrize("kind, splits", [(OpenMIC, ("train", "test")), (NSynth, ("train", "valid", "test")),
                                          (Freesound, ("all",))])
def test_every_data_set_answers_the_same_questions(folders, kind, splits):
    root, split = folders[kind]
    data = kind(root)
    assert isinstance(data, Dataset) and data.splits == splits
    report = data.validate()
    assert report.ok and str(report).startswith(f"{data.title} at {root}: ok")
    assert data.labels(split) is not None
    log_mel, *labels = next(iter(data.log_mel(split)))
    assert log_mel.shape[-2:] == (96, 64) and labels
    model = keras.Sequential([keras.Input((96, 64)), keras.layers.Flatten(), keras.layers.Dense(5)])
    features, *same_labels = next(iter(data.features(split, model)))
    assert features.shape == (*log_mel.shape[:-2], 5)
    np.testing.assert_allclose(features.numpy(), model(np.reshape(log_mel, (-1, 96, 64))).numpy().reshape(
        features.shape), rtol=1e-5, atol=1e-5)
    lines, ok = data.check()
    assert ok and lines[0] == f"{data.title} at {root}: ok" and len(lines) > 1


def test_a_folder_that_is_not_there_is_named(tmp_path):
    for kind in (OpenMIC, NSynth, Freesound):
        with pytest.raises(DatasetError, match=f"{tmp_path / 'absent'}: no such folder"):
            kind(tmp_path / "absent")


def test_nsynth_without_a_needed_split_has_a_problem_and_without_test_a_note(folders, tmp_path):
    rng = np.random.default_rng(1)
    write_json_wav(tmp_path, [make_note(0, rng)], split="train")
    report = NSynth(tmp_path).validate()
    assert not report.ok and report.problems[0].startswith("valid: ")
    assert report.notes[0].startswith("test: ") and report.notes[0].endswith("(pre-training does not read it)")


def test_nsynth_labels_are_the_same_in_both_formats(tmp_path):
    from test_nsynth import serialized, write_tfrecord

    rng = np.random.default_rng(2)
    notes = [make_note(index, rng) for index in range(3)]
    write_json_wav(tmp_path / "json", notes, split="valid")
    (tmp_path / "records").mkdir()
    write_tfrecord(tmp_path / "records", [serialized(fields, audio) for fields, audio in notes], split="valid")
    from_json, from_records = NSynth(tmp_path / "json").labels("valid"), NSynth(tmp_path / "records").labels("valid")
    assert from_json.keys() == from_records.keys()
    for name, values in from_json.items():
        np.testing.assert_array_equal(values, from_records[name], err_msg=name)
