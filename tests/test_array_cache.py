"""The one cache of arrays computed from audio files: its key, and what it refuses to read."""

import os

import numpy as np
import pytest

from airtf.support import array_cache
from airtf.support.array_cache import CacheError


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.wav"
    path.write_bytes(b"RIFF not really audio: the key reads the file's identity, not its samples")
    return path


def test_the_key_covers_the_file_and_how_it_was_computed(clip, tmp_path):
    first = array_cache.entry(tmp_path / "cache", clip, {"resampler": "resampy"})
    assert first == array_cache.entry(tmp_path / "cache", tmp_path / "." / "clip.wav", {"resampler": "resampy"})
    assert first.parent.name == first.stem[:2] and first.suffix == ".npy"
    assert first != array_cache.entry(tmp_path / "cache", clip, {"resampler": "soxr"})
    status = clip.stat()
    os.utime(clip, ns=(status.st_atime_ns, status.st_mtime_ns + 1))
    touched = array_cache.entry(tmp_path / "cache", clip, {"resampler": "resampy"})
    assert touched != first
    clip.write_bytes(clip.read_bytes() + b"!")
    os.utime(clip, ns=(status.st_atime_ns, status.st_mtime_ns + 1))
    assert array_cache.entry(tmp_path / "cache", clip, {"resampler": "resampy"}) not in (first, touched)


def test_an_entry_reads_back_what_was_written(clip, tmp_path):
    path = array_cache.entry(tmp_path / "cache", clip, None)
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    array_cache.write(path, array)
    np.testing.assert_array_equal(array_cache.read(path, (None, 3, 4)), array)
    assert [file.name for file in path.parent.iterdir()] == [path.name]  # nothing temporary left


@pytest.mark.parametrize("content, problem", [
    (b"\x93NUMPY garbage", "unreadable cache file"),
    (np.zeros((2, 3, 5), np.float32), r"cache file holds float32 \[2, 3, 5\], expected float32 \[n, 3, 4\]"),
    (np.zeros((2, 3, 4), np.float64), r"cache file holds float64 \[2, 3, 4\]"),
    (np.zeros((3, 4), np.float32), r"cache file holds float32 \[3, 4\]"),
])
def test_an_entry_that_holds_something_else_names_the_file_and_the_fix(tmp_path, content, problem):
    path = tmp_path / "ab" / "entry.npy"
    path.parent.mkdir()
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content)
    with pytest.raises(CacheError, match=f"{path}: {problem}.*; delete it to recompute"):
        array_cache.read(path, (None, 3, 4))


def test_pickled_objects_are_never_loaded(tmp_path):
    path = tmp_path / "entry.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CacheError, match="unreadable cache file"):
        array_cache.read(path, (None,))
