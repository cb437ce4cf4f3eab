"""NSynth loader: both released formats, their equivalence, example choice, word map, bad input."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from airtf import vggish
from airtf.datasets import nsynth
from airtf.datasets.pipeline import DatasetError

SPLIT = "valid"


def make_note(index, rng):
    """One note's released fields and its audio, on the 16-bit grid so that wav and TFRecord agree."""
    name = f"guitar_acoustic_{index:03d}-{60 + index:03d}-{50 + 10 * index:03d}"
    fields = {
        "note_str": name,
        "pitch": 60 + index,
        "velocity": 50 + 10 * index,
        "instrument": 7 + index,
        "instrument_family": 3,
        "instrument_source": index % 3,
        "sample_rate": 16000,
        "qualities": [int(bit) for bit in rng.integers(0, 2, 10)],
    }
    t = np.arange(nsynth.NOTE_SAMPLES) / 16000
    tone = 0.4 * np.sin(2 * np.pi * 110 * (index + 1) * t) * np.exp(-t) + 0.01 * rng.standard_normal(len(t))
    return fields, (np.round(tone * 32767) / 32768).astype(np.float32)


@pytest.fixture(scope="module")
def notes():
    rng = np.random.default_rng(7)
    return [make_note(index, rng) for index in range(3)]


def feature(values):
    values = list(values)
    if isinstance(values[0], bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
    if isinstance(values[0], (float, np.floating)):
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def serialized(fields, audio):
    """A note as the released TFRecord holds it."""
    features = {name: feature([value]) for name, value in fields.items() if isinstance(value, int)}
    features["qualities"] = feature(fields["qualities"])
    features["audio"] = feature(audio)
    features["note_str"] = feature([fields["note_str"].encode()])
    features["instrument_str"] = feature([fields["note_str"].rsplit("-", 2)[0].encode()])
    features["qualities_str"] = feature(
        [name.encode() for name, bit in zip(nsynth.QUALITIES, fields["qualities"]) if bit] or [b""]
    )
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def write_tfrecord(root, records, split=SPLIT):
    path = nsynth.split_files(root, split)["tfrecord"]
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)
    return path


def write_json_wav(root, notes, split=SPLIT):
    folder = root / f"nsynth-{split}"
    (folder / "audio").mkdir(parents=True)
    for fields, audio in notes:
        sf.write(folder / "audio" / f"{fields['note_str']}.wav", audio, 16000, subtype="PCM_16")
    (folder / "examples.json").write_text(json.dumps({fields["note_str"]: fields for fields, _ in notes}))
    return folder / "examples.json"


@pytest.fixture(scope="module")
def both_formats(tmp_path_factory, notes):
    """The same notes in both formats, each in a folder of its own."""
    base = tmp_path_factory.mktemp("nsynth")
    (base / "tfrecord").mkdir()
    write_tfrecord(base / "tfrecord", [serialized(fields, audio) for fields, audio in notes])
    write_json_wav(base / "json", notes)
    return base / "tfrecord", base / "json"


def elements(dataset):
    return list(dataset.as_numpy_iterator())


def test_constants():
    assert len(nsynth.QUALITIES) == 10 and nsynth.QUALITIES[-1] == "tempo-synced"
    assert len(nsynth.FAMILIES) == 11 and nsynth.FAMILIES[3] == "guitar"
    assert nsynth.SOURCES == ("acoustic", "electronic", "synthetic")
    assert (nsynth.NOTE_SAMPLES, nsynth.EXAMPLES_PER_NOTE) == (64000, 4)


def test_word_map_defaults_to_the_papers_words():
    words = nsynth.word_map()
    assert list(words) == list(nsynth.QUALITIES)
    assert words["fast_decay"] == "decay" and words["long_release"] == "presence"
    assert words["nonlinear_env"] == "modulation" and words["tempo-synced"] == "rhythmic"
    assert words["bright"] == "bright" and words["reverb"] == "reverb"


def test_word_map_overrides_merge_and_are_validated():
    words = nsynth.word_map({"multiphonic": "polyphonic"})
    assert words["multiphonic"] == "polyphonic" and words["fast_decay"] == "decay"
    assert nsynth.PAPER_WORD_MAP["multiphonic"] == "multiphonic"
    with pytest.raises(ValueError, match="not NSynth qualities: \\['loud'\\]"):
        nsynth.word_map({"loud": "noisy"})
    with pytest.raises(ValueError, match="non-empty string"):
        nsynth.word_map({"dark": ""})


def test_tfrecord_elements(both_formats, notes):
    dataset = nsynth.load(both_formats[0], SPLIT)
    example_spec, label_spec = dataset.element_spec
    assert example_spec.shape == (96, 64) and example_spec.dtype == tf.float32
    assert label_spec["qualities"].shape == (10,) and label_spec["qualities"].dtype == tf.float32
    assert {name: spec.dtype for name, spec in label_spec.items() if name != "qualities"} == {
        "family": tf.int64, "source": tf.int64, "instrument": tf.int64, "pitch": tf.int64,
        "velocity": tf.int64, "note_str": tf.string}
    got = elements(dataset)
    assert len(got) == len(notes)
    for (example, labels), (fields, audio) in zip(got, notes):
        np.testing.assert_allclose(example, vggish.waveform_to_examples(audio)[0], atol=1e-5)
        np.testing.assert_array_equal(labels["qualities"], fields["qualities"])
        assert labels["note_str"].decode() == fields["note_str"]
        assert (labels["pitch"], labels["velocity"], labels["instrument"]) == (
            fields["pitch"], fields["velocity"], fields["instrument"])
        assert (labels["family"], labels["source"]) == (fields["instrument_family"], fields["instrument_source"])


def test_both_formats_give_identical_elements(both_formats):
    from_records, from_wavs = (elements(nsynth.load(root, SPLIT, examples="all")) for root in both_formats)
    assert len(from_records) == len(from_wavs) == 3 * nsynth.EXAMPLES_PER_NOTE
    for (record_example, record_labels), (wav_example, wav_labels) in zip(from_records, from_wavs):
        np.testing.assert_array_equal(record_example, wav_example)
        assert record_labels.keys() == wav_labels.keys()
        for name in record_labels:
            np.testing.assert_array_equal(record_labels[name], wav_labels[name])


@pytest.mark.parametrize("examples, positions", [("first", [0]), ("all", [0, 1, 2, 3]), ([3, 1], [3, 1])])
def test_example_choice(both_formats, notes, examples, positions):
    fields, audio = notes[1]
    reference = vggish.waveform_to_examples(audio)
    got = [(example, labels) for example, labels in elements(nsynth.load(both_formats[1], SPLIT, examples=examples))
           if labels["note_str"].decode() == fields["note_str"]]
    assert len(got) == len(positions)
    for (example, _), position in zip(got, positions):
        np.testing.assert_allclose(example, reference[position], atol=1e-5)


@pytest.mark.parametrize("examples", ["middle", [], [4], [-1], [0, 0], [1.5]])
def test_bad_example_choice(both_formats, examples):
    with pytest.raises(ValueError, match="examples="):
        nsynth.load(both_formats[0], SPLIT, examples=examples)


def test_limit(both_formats, notes):
    for root in both_formats:
        got = elements(nsynth.load(root, SPLIT, limit=2))
        assert [labels["note_str"].decode() for _, labels in got] == [f["note_str"] for f, _ in notes[:2]]


def test_a_folder_of_shards_is_read_interleaved_in_a_fixed_order(tmp_path, both_formats, notes):
    folder = nsynth.split_files(tmp_path, SPLIT)["tfrecord"]
    folder.mkdir()
    for shard, members in (("00000-of-00002", [notes[0], notes[2]]), ("00001-of-00002", [notes[1]])):
        with tf.io.TFRecordWriter(str(folder / f"nsynth-{SPLIT}.tfrecord-{shard}")) as writer:
            for fields, audio in members:
                writer.write(serialized(fields, audio))
    (folder / ".hidden").write_bytes(b"not a shard")
    assert nsynth.detect_format(tmp_path, SPLIT) == "tfrecord"
    assert not [problem for problem in nsynth.NSynth(tmp_path).validate().problems if problem.startswith(SPLIT)]
    got = elements(nsynth.load(tmp_path, SPLIT))
    # one record from each shard in turn: notes 0 (shard 0), 1 (shard 1), 2 (shard 0)
    assert [labels["note_str"].decode() for _, labels in got] == [fields["note_str"] for fields, _ in notes]
    for (example, _), (reference, _) in zip(got, elements(nsynth.load(both_formats[0], SPLIT))):
        np.testing.assert_array_equal(example, reference)
    labels = nsynth.NSynth(tmp_path).labels(SPLIT)
    assert list(labels["note_str"]) == [fields["note_str"] for fields, _ in notes]


def test_notes_are_counted_without_decoding(both_formats, notes):
    records, wavs = both_formats
    assert nsynth.count_notes(wavs, SPLIT) == (len(notes), True)
    assert nsynth.count_notes(records, SPLIT) == (len(notes), False)  # sized from the file
    assert nsynth.count_notes(records, SPLIT, limit=2) == (2, False)


def test_an_empty_folder_of_shards_is_named(tmp_path):
    nsynth.split_files(tmp_path, SPLIT)["tfrecord"].mkdir()
    with pytest.raises(DatasetError, match="a folder of TFRecord shards that holds none"):
        nsynth.load(tmp_path, SPLIT)


def test_format_detection_and_choice(tmp_path, notes):
    write_json_wav(tmp_path, notes[:1])
    assert nsynth.detect_format(tmp_path, SPLIT) == "json"
    write_tfrecord(tmp_path, [serialized(*notes[0])])
    assert nsynth.detect_format(tmp_path, SPLIT) == "tfrecord"
    assert nsynth.detect_format(tmp_path, SPLIT, format="json") == "json"


def test_missing_split_names_the_expected_files(both_formats):
    with pytest.raises(DatasetError, match="no NSynth 'test' split \\(it holds the splits: valid\\)") as error:
        nsynth.load(both_formats[0], "test")
    assert "nsynth-test.tfrecord" in str(error.value) and "nsynth-test/examples.json" in str(error.value)
    with pytest.raises(DatasetError, match="expected .*nsynth-valid/examples.json; download"):
        nsynth.load(both_formats[0], SPLIT, format="json")


def broken_json_split(tmp_path, notes, change):
    path = write_json_wav(tmp_path, notes[:2])
    content = json.loads(path.read_text())
    change(content[notes[1][0]["note_str"]])
    path.write_text(json.dumps(content))
    return path


@pytest.mark.parametrize("change, message", [
    (lambda fields: fields.pop("pitch"), "lacks the field 'pitch'"),
    (lambda fields: fields["qualities"].pop(), "has qualities of length 9, expected 10"),
    (lambda fields: fields.update(instrument_family=11), "instrument_family = 11, outside 0..10"),
    (lambda fields: fields.update(velocity="loud"), "velocity = 'loud', not an integer"),
])
def test_malformed_examples_json(tmp_path, notes, change, message):
    path = broken_json_split(tmp_path, notes, change)
    with pytest.raises(DatasetError, match=message) as error:
        nsynth.load(tmp_path, SPLIT)
    assert str(error.value).startswith(f"{path}: note '{notes[1][0]['note_str']}'")
    assert "re-download" in str(error.value)


def test_unparsable_examples_json(tmp_path, notes):
    path = write_json_wav(tmp_path, notes[:1])
    path.write_text('{"a": {')
    with pytest.raises(DatasetError, match=f"^{path}: not valid JSON .*line 1.*re-download"):
        nsynth.load(tmp_path, SPLIT)


def test_note_without_wav(tmp_path, notes):
    path = write_json_wav(tmp_path, notes)
    wav = path.parent / "audio" / f"{notes[2][0]['note_str']}.wav"
    wav.unlink()
    with pytest.raises(DatasetError, match=f"^{wav}: not found, but its note is listed in {path} \\(1 of 3"):
        nsynth.load(tmp_path, SPLIT)


def test_tfrecord_missing_feature(tmp_path, notes):
    fields, audio = notes[0]
    path = write_tfrecord(tmp_path, [serialized({**fields, "pitch": None}, audio)])
    with pytest.raises(DatasetError, match=f"^{path}: feature pitch of a record must hold 1 value.*re-download"):
        nsynth.load(tmp_path, SPLIT)


def test_tfrecord_wrong_audio_length(tmp_path, notes):
    fields, audio = notes[0]
    path = write_tfrecord(tmp_path, [serialized(fields, audio[:48000])])
    with pytest.raises(DatasetError, match=f"^{path}: feature audio of a record must hold 64000 value"):
        nsynth.load(tmp_path, SPLIT)


def test_tfrecord_bad_later_record_fails_naming_the_file(tmp_path, notes):
    path = write_tfrecord(tmp_path, [serialized(*notes[0]), serialized(notes[1][0], notes[1][1][:100])])
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{path}: feature audio of a record must hold 64000 value"):
        elements(nsynth.load(tmp_path, SPLIT))


def test_tfrecord_that_is_not_nsynth(tmp_path):
    path = write_tfrecord(tmp_path, [])
    with pytest.raises(DatasetError, match=f"^{path}: holds no records"):
        nsynth.load(tmp_path, SPLIT)
    path.write_bytes(b"not a tfrecord at all")
    with pytest.raises(DatasetError, match=f"^{path}: cannot parse its first record"):
        nsynth.load(tmp_path, SPLIT)


def test_cache_dir_applies_to_wav_files_only(both_formats, tmp_path):
    with pytest.raises(ValueError, match="cache_dir"):
        nsynth.load(both_formats[0], SPLIT, cache_dir=tmp_path)
    first, again = (elements(nsynth.load(both_formats[1], SPLIT, cache_dir=tmp_path)) for _ in range(2))
    np.testing.assert_array_equal(np.stack([e for e, _ in first]), np.stack([e for e, _ in again]))
    assert list(tmp_path.rglob("*.npy"))


def test_tfrecord_not_at_16_khz(tmp_path, notes):
    fields, audio = notes[0]
    path = write_tfrecord(tmp_path, [serialized({**fields, "sample_rate": 44100}, audio)])
    with pytest.raises(DatasetError, match=f"^{path}: sample_rate of a record is not 16000"):
        nsynth.load(tmp_path, SPLIT)


def test_demo_set_loads(tmp_path):
    from airtf.demo import sets as demo

    demo.render_nsynth(tmp_path, notes=6)
    for split in ("train", "valid", "test"):
        notes = json.loads((tmp_path / f"nsynth-{split}" / "examples.json").read_text())
        got = elements(nsynth.load(tmp_path, split, examples="all"))
        assert len(got) == nsynth.EXAMPLES_PER_NOTE * len(notes)
        for _, labels in got:
            np.testing.assert_array_equal(labels["qualities"], notes[labels["note_str"].decode()]["qualities"])


def record_offsets(path):
    """Where each record of a TFRecord file starts: 8 bytes of length, 4 of its CRC, the data, 4 of its CRC."""
    data, offsets, at = Path(path).read_bytes(), [], 0
    while at < len(data):
        offsets.append(at)
        at += 16 + int.from_bytes(data[at:at + 8], "little")
    return offsets


def sharded_split(root, notes, shards=3, split=SPLIT):
    """The notes as a folder of shards, ``nsynth-<split>.tfrecord/``, note i in shard i % shards."""
    folder = nsynth.split_files(root, split)["tfrecord"]
    folder.mkdir(parents=True)
    paths = [folder / f"nsynth-{split}.tfrecord-{shard:05d}-of-{shards:05d}" for shard in range(shards)]
    for shard, path in enumerate(paths):
        with tf.io.TFRecordWriter(str(path)) as writer:
            for fields, audio in notes[shard::shards]:
                writer.write(serialized(fields, audio))
    return paths


def corrupt(shard, kind):
    """Damage the second record of ``shard``: cut the file inside it, flip a byte of it, or drop its audio."""
    second = record_offsets(shard)[1]
    data = shard.read_bytes()
    if kind == "truncated":
        shard.write_bytes(data[:second + 1000])
    elif kind == "crc":
        flipped = bytearray(data)
        flipped[second + 500] ^= 0xFF
        shard.write_bytes(bytes(flipped))
    else:
        records = [record.numpy() for record in tf.data.TFRecordDataset(str(shard))]
        records[1] = without_audio(records[1])
        with tf.io.TFRecordWriter(str(shard)) as writer:
            for record in records:
                writer.write(record)
    return second


def without_audio(record):
    example = tf.train.Example.FromString(record)
    del example.features.feature["audio"]
    return example.SerializeToString()


BAD_RECORDS = {"truncated": r"record 1 \(byte (\d+)\) is cut short: the file ends inside it",
               "crc": r"record 1 \(byte (\d+)\) fails its checksum \(corrupted\)",
               "no audio": r"record 1: feature audio of a record must hold 64000 value\(s\) but is missing"}


@pytest.fixture(scope="module")
def nine_notes():
    rng = np.random.default_rng(3)
    return [make_note(index, rng) for index in range(9)]


@pytest.mark.parametrize("kind", list(BAD_RECORDS))
def test_a_bad_record_in_the_middle_of_a_shard_is_named_by_check(kind, nine_notes, tmp_path, capsys):
    from airtf.cli import data as data_cli

    shards = sharded_split(tmp_path, nine_notes)
    offset = corrupt(shards[1], kind)
    pattern = f"{re.escape(str(shards[1]))}: {BAD_RECORDS[kind]}"
    problem = nsynth.bad_record(shards[0].parent)
    found = re.match(pattern, str(problem))
    assert found, problem
    assert kind == "no audio" or offset <= int(found[1]) <= offset + 12  # the record, or its data after the header
    assert nsynth.bad_record(shards[0]) is None  # the other shards are whole
    assert data_cli.main(["check", "--nsynth", str(tmp_path)]) == 1
    printed = capsys.readouterr().out.splitlines()
    lines = [line for line in printed if str(shards[1]) in line]
    assert len(lines) == 1 and re.search(pattern, lines[0]), printed
    assert "Traceback" not in "\n".join(printed)


def test_every_record_is_read_and_a_good_split_passes(nine_notes, tmp_path):
    shards = sharded_split(tmp_path, nine_notes)
    counted = []
    assert nsynth.bad_record(shards[0].parent, counted.append) is None
    assert sum(counted) == len(nine_notes)


def test_examples_json_nested_deeper_than_any_release_is_one_line(tmp_path, capsys):
    from airtf.cli import data as data_cli

    folder = tmp_path / f"nsynth-{SPLIT}"
    folder.mkdir()
    (folder / "examples.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DatasetError, match="examples.json: JSON nested far deeper than any released file"):
        nsynth.read_notes(folder / "examples.json")
    assert data_cli.main(["check", "--nsynth", str(tmp_path)]) == 1
    assert "nested far deeper" in capsys.readouterr().out
