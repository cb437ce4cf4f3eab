"""One on-disk cache for arrays computed from audio files: one key, one file format.

An entry is found by the audio file it was computed from (its resolved path,
size and modification time, so an edited or replaced file is computed again)
and by how it was computed: a JSON description its caller gives (the front
end's settings and the resampler for log-mel examples; the weights' sha256,
variant and front end for embeddings). Entries are .npy files, written
atomically and read without pickle; one that does not hold what its caller
expects is a :class:`CacheError` naming the file and the fix.
"""

import hashlib
import json
from pathlib import Path

import numpy as np

from airtf.errors import AirtfError
from airtf.support.files import atomic_path

FORMAT = 2
"""Part of every key; bumped when what an entry holds changes meaning."""


class CacheError(AirtfError):
    """A cache entry is unreadable or holds another array than expected."""


def entry(folder, audio_path, computed_by) -> Path:
    """Where the array computed from ``audio_path`` as ``computed_by`` says lives.

    Parameters
    ----------
    folder : str or os.PathLike
        The cache folder.
    audio_path : str or os.PathLike
        The audio file; it must exist.
    computed_by : dict
        JSON-serialisable description of the computation.

    Returns
    -------
    Path
        ``folder/<2 hex digits>/<sha256>.npy``.
    """
    audio_path = Path(audio_path).resolve()
    status = audio_path.stat()
    key = digest({"format": FORMAT, "path": str(audio_path), "bytes": status.st_size,
                  "mtime_ns": status.st_mtime_ns, "computed_by": computed_by})
    return Path(folder) / key[:2] / f"{key}.npy"


def digest(value) -> str:
    """The sha256 (hex) of a JSON-serialisable value, the same for equal values: what keys are made of."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def read(path, shape) -> np.ndarray:
    """The float32 array of an entry, checked against ``shape`` (None: any length on that axis)."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise CacheError(f"{path}: unreadable cache file ({error}); delete it to recompute") from None
    fits = array.ndim == len(shape) and all(want is None or have == want for have, want in zip(array.shape, shape))
    if not fits or array.dtype != np.float32:
        wanted = ", ".join("n" if size is None else str(size) for size in shape)
        raise CacheError(f"{path}: cache file holds {array.dtype} {list(array.shape)}, expected float32 "
                         f"[{wanted}]; delete it to recompute")
    return array


def write(path, array):
    """Store ``array`` as the entry ``path``, atomically; returns the array."""
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as stream:
            np.save(stream, array)
    return array
