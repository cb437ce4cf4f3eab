"""OpenMIC-2018 loader: the real shared files, and small synthetic releases in tmp_path."""

import json
import math

import numpy as np
import pytest
import soundfile

from airtf import audio
from airtf.datasets import openmic, pipeline
from airtf.datasets.npz import read_arrays
from airtf.datasets.openmic import OpenMIC
from airtf.datasets.pipeline import DatasetError
from airtf.errors import AudioError
from airtf.vggish import LogMelExamples, waveform_to_examples

CLASSES = ["accordion", "banjo", "bass", "cello", "clarinet", "cymbals", "drums", "flute", "guitar",
           "mallet_percussion", "mandolin", "organ", "piano", "saxophone", "synthesizer", "trombone",
           "trumpet", "ukulele", "violin", "voice"]
REAL_KEY = "000046_3840"
SILENCE = math.log(0.01)

# Synthetic release: key -> seconds of 16 kHz audio (two short clips to pad, one long to trim).
CLIP_SECONDS = {"000101_0": 2.0, "000102_960": 2.5, "001203_0": 11.5}
TRAIN_KEYS = [f"{index:06d}_0" for index in range(200, 300)]
TEST_KEYS = [f"{index:06d}_0" for index in range(300, 340)]


def sample_keys():
    return sorted([*CLIP_SECONDS, *TRAIN_KEYS, *TEST_KEYS])


def release_arrays(count, seed=0):
    rng = np.random.default_rng(seed)
    y_mask = rng.random((count, len(CLASSES))) < 0.3
    y_true = np.where(y_mask, rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], (count, len(CLASSES))), 0.5)
    x = rng.integers(0, 256, (count, 10, 128), dtype=np.uint8)
    return x, y_true, y_mask


def write_release(root, *, keys=None, clips=CLIP_SECONDS, npz=True):
    """A small release: class map, partitions, npz (sample_key as objects, like the release) and OGG clips."""
    keys = sample_keys() if keys is None else keys
    (root / "partitions").mkdir(parents=True, exist_ok=True)
    (root / "class-map.json").write_text(json.dumps({name: index for index, name in enumerate(CLASSES)}))
    train = [key for key in keys if key not in TEST_KEYS]
    (root / "partitions" / "split01_train.csv").write_text("\n".join(train) + "\n")
    (root / "partitions" / "split01_test.csv").write_text("\n".join(TEST_KEYS) + "\n")
    if npz:
        x, y_true, y_mask = release_arrays(len(keys))
        np.savez(root / "openmic-2018.npz", X=x, Y_true=y_true, Y_mask=y_mask,
                 sample_key=np.array(keys, dtype=object))
    for number, (key, seconds) in enumerate(clips.items()):
        path = root / "audio" / key[:3] / f"{key}.ogg"
        path.parent.mkdir(parents=True, exist_ok=True)
        time = np.arange(int(seconds * 16000)) / 16000
        tone = 0.3 * np.sin(2 * np.pi * 220 * (number + 1) * time) * (1 + 0.5 * np.sin(2 * np.pi * 3 * time))
        soundfile.write(path, tone.astype(np.float32), 16000, format="OGG", subtype="VORBIS")
    return root


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return write_release(tmp_path_factory.mktemp("openmic"))


@pytest.fixture(scope="module")
def real(shared_data):
    return OpenMIC(shared_data / "openmic")


# --- the real shared files ---------------------------------------------------------------------

def test_real_class_map_has_the_20_classes_in_index_order(real):
    assert real.classes == CLASSES
    assert real.classes.index("mallet_percussion") == 9 and real.classes.index("voice") == 19


def test_real_partitions_have_the_official_sizes_and_are_disjoint(real):
    train, test = real.partitions["train"], real.partitions["test"]
    assert (len(train), len(test)) == (14915, 5085)
    assert len(set(train)) == 14915 and len(set(test)) == 5085
    assert not set(train) & set(test)
    assert REAL_KEY in train


def test_real_labels_come_from_the_three_aggregated_rows(real):
    labels = real.labels()
    assert list(labels.sample_key) == [REAL_KEY]
    clarinet, flute, trumpet = (CLASSES.index(name) for name in ("clarinet", "flute", "trumpet"))
    assert labels.y_true[0, clarinet] == pytest.approx(0.17105)
    assert labels.y_true[0, flute] == 0.0 and labels.y_true[0, trumpet] == 0.0
    assert np.flatnonzero(labels.y_mask[0]).tolist() == [clarinet, flute, trumpet]
    unknown = np.delete(labels.y_true[0], [clarinet, flute, trumpet])
    assert np.all(unknown == 0.5)
    assert not real.positives.any()  # clarinet 0.17 is an annotated negative


def test_real_released_features_read_from_the_clip_json(real, shared_data):
    released = json.loads((shared_data / "openmic" / "vggish" / "000" / f"{REAL_KEY}.json").read_text())
    features = openmic.read_vggish_json(real.vggish_path(REAL_KEY))
    assert features.shape == (10, 128) and features.dtype == np.uint8
    np.testing.assert_array_equal(features, released["features"])
    np.testing.assert_array_equal(real.released_features()[0], features)
    x, y_true, y_mask = next(iter(real.released_dataset([REAL_KEY])))
    np.testing.assert_allclose(x.numpy(), features / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y_true.numpy(), real.labels().y_true[0])


def test_real_clip_audio_view_gives_ten_log_mel_examples(real):
    examples, y_true, y_mask = next(iter(real.log_mel([REAL_KEY])))
    assert examples.shape == (10, 96, 64) and examples.dtype == "float32"
    expected = waveform_to_examples(audio.read(real.audio_path(REAL_KEY)))
    np.testing.assert_allclose(examples.numpy(), expected, atol=1e-5)
    np.testing.assert_array_equal(y_mask.numpy(), real.labels().y_mask[0])


def test_real_validate_reports_what_is_absent_without_raising(real):
    report = real.validate()
    assert not report.ok
    assert report.missing_files == []  # the labels come from the CSV where the npz is absent
    assert len(report.keys_without_audio) == 19999 and REAL_KEY not in report.keys_without_audio
    assert len(report.keys_without_features) == 19999
    assert len(report.unlabelled_partition_keys["train"]) == 14914
    assert len(report.unlabelled_partition_keys["test"]) == 5085
    assert report.keys_in_both_partitions == [] and report.errors == []
    assert "train keys without labels: 14914 (e.g. " in str(report)
    assert report.uses == {"released features": False, "audio": False}
    assert "  audio: 19999 clips without (e.g. " in str(report)


# --- the npz path ------------------------------------------------------------------------------

def test_npz_gives_labels_features_and_positives(release):
    dataset = OpenMIC(release)
    x, y_true, y_mask = release_arrays(len(sample_keys()))
    assert list(dataset.labels().sample_key) == sample_keys()
    np.testing.assert_array_equal(dataset.labels().y_true, y_true.astype(np.float32))
    np.testing.assert_array_equal(dataset.labels().y_mask, y_mask)
    np.testing.assert_array_equal(dataset.positives, (y_true >= 0.5) & y_mask)
    np.testing.assert_array_equal(dataset.released_features(), x)
    assert dataset.released_features().dtype == np.uint8
    np.testing.assert_array_equal(dataset.released_features(), x)
    rows = dataset.rows(["001203_0", "000101_0"])
    np.testing.assert_array_equal(dataset.released_features(["001203_0", "000101_0"]), x[rows])


def test_npz_takes_precedence_over_the_aggregated_labels(tmp_path):
    root = write_release(tmp_path, clips={})
    (root / "openmic-2018-aggregated-labels.csv").write_text(
        "sample_key,instrument,relevance,num_responses\n000101_0,piano,1.0,3\n")
    assert len(OpenMIC(root).labels().sample_key) == len(sample_keys())
    (root / "openmic-2018.npz").unlink()
    labels = OpenMIC(root).labels()
    assert list(labels.sample_key) == ["000101_0"] and labels.y_true[0, CLASSES.index("piano")] == 1.0


def test_release_without_x_reads_features_from_the_clip_json(tmp_path):
    root = write_release(tmp_path, clips={})
    x, y_true, y_mask = release_arrays(len(sample_keys()))
    np.savez(root / "openmic-2018.npz", Y_true=y_true, Y_mask=y_mask, sample_key=np.array(sample_keys()))
    key = sample_keys()[0]
    path = OpenMIC(root).vggish_path(key)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"time_points": [0.0] * 10, "features": x[0].tolist()}))
    np.testing.assert_array_equal(OpenMIC(root).released_features([key]), x[:1])


# --- splits ------------------------------------------------------------------------------------

def test_split_draws_fifteen_percent_of_train_deterministically(release):
    dataset = OpenMIC(release)
    split = dataset.draw_split()
    train = dataset.partitions["train"]
    assert len(split.validation) == round(0.15 * len(train))
    assert set(split.train) | set(split.validation) == set(train)
    assert not set(split.train) & set(split.validation)
    assert not (set(split.train) | set(split.validation)) & set(split.test)
    assert split.test == tuple(dataset.partitions["test"])
    assert dataset.draw_split() == split
    assert dataset.draw_split(seed=1).validation != split.validation
    assert split.drawn_with == {"seed": openmic.SPLIT_SEED, "validation_fraction": 0.15}


def test_split_is_written_into_a_run_directory_and_read_back(release, tmp_path):
    dataset = OpenMIC(release)
    split = dataset.draw_split()
    path = openmic.write_split(tmp_path / "run", split)
    assert path == tmp_path / "run" / "split.json"
    assert openmic.read_split(tmp_path / "run") == split
    assert openmic.read_split(path) == split
    assert openmic.write_split(tmp_path / "run", split) == path  # the same split: nothing to do
    with pytest.raises(DatasetError, match="different split"):
        openmic.write_split(tmp_path / "run", dataset.draw_split(seed=1))
    openmic.write_split(tmp_path / "run", dataset.draw_split(seed=1), overwrite=True)
    assert openmic.read_split(tmp_path / "run") == dataset.draw_split(seed=1)


def test_split_takes_a_user_key_list(release, tmp_path):
    dataset = OpenMIC(release)
    chosen = dataset.partitions["train"][5:25]
    (tmp_path / "validation.txt").write_text("\n".join(reversed(chosen)) + "\n\n")
    split = dataset.draw_split(validation_keys=tmp_path / "validation.txt")
    assert split.validation == tuple(chosen)
    assert set(split.train) == set(dataset.partitions["train"]) - set(chosen)
    assert split.drawn_with == {"validation_keys": str(tmp_path / "validation.txt")}
    (tmp_path / "foreign.txt").write_text(TEST_KEYS[0] + "\n")
    with pytest.raises(DatasetError, match="foreign.txt: 1 validation keys are not in the train partition"):
        dataset.draw_split(validation_keys=tmp_path / "foreign.txt")


# --- tf.data views -----------------------------------------------------------------------------

def test_features_view_gives_scaled_released_features_and_labels(release):
    dataset = OpenMIC(release)
    keys = ["001203_0", TRAIN_KEYS[3]]
    rows = dataset.rows(keys)
    elements = list(dataset.released_dataset(keys))
    assert len(elements) == 2
    for (x, y_true, y_mask), row in zip(elements, rows):
        assert (x.shape, x.dtype) == ((10, 128), "float32")
        assert (y_true.shape, y_true.dtype, y_mask.shape, y_mask.dtype) == ((20,), "float32", (20,), "bool")
        np.testing.assert_allclose(x.numpy(), dataset.released_features()[row] / 255.0, rtol=1e-6)
        np.testing.assert_array_equal(y_true.numpy(), dataset.labels().y_true[row])
        np.testing.assert_array_equal(y_mask.numpy(), dataset.labels().y_mask[row])


def test_audio_view_pads_short_clips_and_trims_long_ones_to_ten_examples(release):
    dataset = OpenMIC(release)
    keys = list(CLIP_SECONDS)
    for key, (examples, y_true, _) in zip(keys, dataset.log_mel(keys, num_parallel_calls=2)):
        assert examples.shape == (10, 96, 64) and examples.dtype == "float32"
        expected = waveform_to_examples(audio.read(dataset.audio_path(key)))[:10]
        np.testing.assert_allclose(examples.numpy()[:len(expected)], expected, atol=1e-5)
        assert np.all(examples.numpy()[len(expected):] == np.float32(SILENCE))
        np.testing.assert_array_equal(y_true.numpy(), dataset.labels().y_true[dataset.rows([key])[0]])


def test_feature_view_applies_a_keras_model_to_the_examples(release):
    import keras

    model = keras.Sequential([keras.Input((96, 64)), keras.layers.Flatten(), keras.layers.Dense(8)])
    dataset = OpenMIC(release)
    key = "000101_0"
    features, y_true, _ = next(iter(dataset.features([key], model)))
    examples, _, _ = next(iter(dataset.log_mel([key])))
    assert features.shape == (10, 8) and features.dtype == "float32"
    np.testing.assert_allclose(features.numpy(), model(examples).numpy(), rtol=1e-5, atol=1e-5)


def test_a_partition_name_or_keys_select_the_labels(release):
    dataset = OpenMIC(release)
    assert dataset.splits == ("train", "test")
    test = dataset.labels("test")
    assert list(test.sample_key) == TEST_KEYS
    np.testing.assert_array_equal(test.y_true, dataset.labels(TEST_KEYS).y_true)
    np.testing.assert_array_equal(test.y_mask, dataset.labels().y_mask[dataset.rows(TEST_KEYS)])


def test_feature_cache_is_read_on_the_second_pass(release, tmp_path, monkeypatch):
    dataset = OpenMIC(release)
    keys = list(CLIP_SECONDS)
    first = [x.numpy() for x, _, _ in dataset.log_mel(keys, cache_dir=tmp_path)]
    assert len(list(tmp_path.rglob("*.npy"))) == len(keys)

    def failing_decoder(path, resampler="resampy"):
        import tensorflow as tf

        return tf.reshape(tf.numpy_function(lambda _: np.float32(1 / 0), [path], tf.float32), [-1])

    monkeypatch.setattr(pipeline.audio, "decode_tf", failing_decoder)
    second = [x.numpy() for x, _, _ in dataset.log_mel(keys, cache_dir=tmp_path)]
    for before, after in zip(first, second):
        np.testing.assert_array_equal(before, after)
    with pytest.raises(Exception, match="division by zero"):  # the decoder is really gone
        list(dataset.log_mel(keys[:1]))


def test_a_damaged_cache_entry_stops_the_pipeline_naming_the_file(release, tmp_path):
    import tensorflow as tf

    dataset = OpenMIC(release)
    key = list(CLIP_SECONDS)[0]
    entry = pipeline.cache_path(tmp_path, dataset.audio_path(key))
    entry.parent.mkdir(parents=True)
    np.save(entry, np.zeros((2, 96, 63), np.float32))
    with pytest.raises(tf.errors.OpError, match=f"{entry}: cache file holds float32 \\[2, 96, 63\\].*delete it"):
        list(dataset.log_mel([key], cache_dir=tmp_path))


def test_cache_key_follows_front_end_and_resampler(release, tmp_path):
    path = OpenMIC(release).audio_path("000101_0")
    official = pipeline.cache_path(tmp_path, path)
    assert official == pipeline.cache_path(tmp_path, path, LogMelExamples(name="another_name"))
    assert official != pipeline.cache_path(tmp_path, path, resampler="soxr")
    assert official != pipeline.cache_path(tmp_path, path, LogMelExamples(pad=True))
    assert official.parent.parent == tmp_path and official.suffix == ".npy"


def test_fit_examples_trims_or_pads_with_silence():
    import tensorflow as tf

    examples = tf.random.normal((3, 96, 64))
    np.testing.assert_array_equal(pipeline.fit_examples(examples, 2).numpy(), examples.numpy()[:2])
    padded = pipeline.fit_examples(examples, 5).numpy()
    np.testing.assert_array_equal(padded[:3], examples.numpy())
    assert padded.shape == (5, 96, 64) and np.all(padded[3:] == np.float32(SILENCE))


# --- bad inputs --------------------------------------------------------------------------------

def test_missing_root_or_class_map_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        OpenMIC(tmp_path / "absent")
    with pytest.raises(DatasetError, match="class-map.json: class map not found"):
        OpenMIC(tmp_path)
    (tmp_path / "class-map.json").write_text(json.dumps({"piano": 0, "voice": 2}))
    with pytest.raises(DatasetError, match="class-map.json: expected a JSON object"):
        OpenMIC(tmp_path).classes


def test_missing_partition_and_labels_name_the_file(tmp_path):
    root = write_release(tmp_path, clips={}, npz=False)
    (root / "partitions" / "split01_test.csv").unlink()
    dataset = OpenMIC(root)
    with pytest.raises(DatasetError, match="split01_test.csv: cannot read the key list"):
        dataset.partitions
    with pytest.raises(DatasetError, match="neither openmic-2018.npz nor openmic-2018-aggregated-labels.csv"):
        dataset.labels()
    report = dataset.validate()
    assert str(root / "partitions" / "split01_test.csv") in report.missing_files
    assert any("neither" in message for message in report.errors)


def test_a_key_with_no_audio_fails_when_the_audio_view_is_built(release):
    dataset = OpenMIC(release)
    absent = dataset.audio_path(TRAIN_KEYS[0])
    with pytest.raises(DatasetError, match=f"{absent}: audio file not found \\(1 in all\\)"):
        dataset.log_mel(["000101_0", TRAIN_KEYS[0]])
    with pytest.raises(DatasetError, match="999999_0: no labels in"):
        dataset.released_dataset(["999999_0"])


def test_corrupt_ogg_surfaces_with_its_path(tmp_path):
    import tensorflow as tf

    root = write_release(tmp_path, clips={"000101_0": 2.0})
    path = OpenMIC(root).audio_path("000101_0")
    path.write_bytes(b"OggS" + bytes(300))
    with pytest.raises(tf.errors.OpError, match=f"AudioError: {path}: cannot decode"):
        list(OpenMIC(root).log_mel(["000101_0"]))


def test_missing_audio_file_in_the_pipeline_is_an_audio_error(tmp_path):
    with pytest.raises(AudioError, match="absent.ogg: file not found \\(1 of 1 audio files"):
        pipeline.log_mel_dataset([tmp_path / "absent.ogg"])


def npz_without_y_mask(arrays):
    del arrays["Y_mask"]


def npz_with_short_y_true(arrays):
    arrays["Y_true"] = arrays["Y_true"][:, :19]


def npz_with_x_of_wrong_shape(arrays):
    arrays["X"] = arrays["X"][:, :9]


def npz_with_relevance_above_one(arrays):
    arrays["Y_true"][0, 0] = 2.0


def npz_with_repeated_key(arrays):
    arrays["sample_key"][1] = arrays["sample_key"][0]


@pytest.mark.parametrize("damage, message", [
    (npz_without_y_mask, "array\\(s\\) Y_mask missing"),
    (npz_with_short_y_true, "Y_true has shape \\[143, 19\\], expected \\[143, 20\\]"),
    (npz_with_x_of_wrong_shape, "X has shape \\[143, 9, 128\\], expected \\[143, 10, 128\\]"),
    (npz_with_relevance_above_one, "Y_true must hold numbers in \\[0, 1\\]"),
    (npz_with_repeated_key, "sample_key has repeated keys"),
])
def test_npz_with_wrong_arrays_is_a_clear_error(tmp_path, damage, message):
    root = write_release(tmp_path, clips={})
    arrays = {name: array.copy() for name, array in read_arrays(root / "openmic-2018.npz", "written").items()}
    damage(arrays)
    np.savez(root / "openmic-2018.npz", **arrays)
    with pytest.raises(DatasetError, match=f"openmic-2018.npz: {message}"):
        OpenMIC(root).labels()


def test_file_that_is_not_an_npz_is_a_clear_error(tmp_path):
    root = write_release(tmp_path, clips={}, npz=False)
    (root / "openmic-2018.npz").write_bytes(b"not an archive")
    with pytest.raises(DatasetError, match="openmic-2018.npz: not a NumPy .npz archive"):
        OpenMIC(root).labels()


HEADER = "sample_key,instrument,relevance,num_responses\n"


@pytest.mark.parametrize("rows, message", [
    ("sample_key,instrument,num_responses\n000001_0,piano,3\n", "column\\(s\\) relevance missing"),
    (HEADER + "000001_0,piano,high,3\n", "line 2: relevance 'high' is not a number"),
    (HEADER + "000001_0,piano,1.5,3\n", "line 2: relevance '1.5' is not a number"),
    (HEADER + "000001_0,piano,1,3\n000001_0,kazoo,1,3\n", "line 3: unknown instrument 'kazoo'"),
    (HEADER + "000001_0,piano,1,3\n000001_0,piano,0,3\n", "line 3: repeated sample key"),
    (HEADER + "000001_0,piano\n", "line 2: too few fields"),
])
def test_malformed_aggregated_labels_are_a_clear_error(tmp_path, rows, message):
    root = write_release(tmp_path, clips={}, npz=False)
    (root / "openmic-2018-aggregated-labels.csv").write_text(rows)
    with pytest.raises(DatasetError, match=f"openmic-2018-aggregated-labels.csv(: |, ){message}"):
        OpenMIC(root).labels()


def test_malformed_vggish_json_names_the_file(tmp_path):
    path = tmp_path / "000101_0.json"
    path.write_text(json.dumps({"time_points": [0.0], "features": [[300] * 128]}))
    with pytest.raises(DatasetError, match="000101_0.json: 'features' is int64 \\[1, 128\\]"):
        openmic.read_vggish_json(path)
    path.write_text("{")
    with pytest.raises(DatasetError, match="000101_0.json: not valid JSON"):
        openmic.read_vggish_json(path)


def test_the_release_errata_found_are_reported(tmp_path):
    keys = sorted([*TRAIN_KEYS, *TEST_KEYS, "071826_0", "095253_134400", "113025_99840"])
    root = write_release(tmp_path / "openmic", keys=keys, clips={})
    data = read_arrays(root / "openmic-2018.npz", "written by this test")
    y_true, y_mask = data["Y_true"].copy(), data["Y_mask"].copy()
    piano, trumpet = CLASSES.index("piano"), CLASSES.index("trumpet")
    y_true[keys.index("095253_134400"), piano], y_mask[keys.index("095253_134400"), piano] = 1.0, True
    y_true[keys.index("113025_99840"), trumpet], y_mask[keys.index("113025_99840"), trumpet] = 0.0, True
    np.savez(root / "openmic-2018.npz", **{**data, "Y_true": y_true, "Y_mask": y_mask})
    lines = OpenMIC(root).errata()
    assert lines[0].startswith("  errata: 3 clips come from FMA recordings corrupted") and "071826_0" in lines[0]
    assert "  errata: 095253_134400 piano: corrected here" in lines
    assert "  errata: 113025_99840 trumpet: not corrected here (Y_true 0); the errata say present" in lines
    assert len(lines) == 3  # 095263_96000 is not in this copy
    assert OpenMIC(write_release(tmp_path / "clean", keys=sorted([*TRAIN_KEYS, *TEST_KEYS]), clips={})).errata() == []
