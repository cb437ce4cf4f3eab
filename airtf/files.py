"""Atomic file writing: a reader never sees a half-written output.

Each writer writes to a hidden temporary file in the destination's folder and
renames it into place, so a kill leaves either the old file, the new file or
a stray temporary, never a truncated result.
"""

import json
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    The temporary keeps the destination's suffixes (Keras insists on
    ``.weights.h5``), and is removed if the block raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{os.getpid()}.partial.{path.name}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_json(path, data):
    """Write ``data`` as JSON to ``path`` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, separators=(",", ":")))


def write_npz(path, **arrays):
    """Write arrays to an .npz file at ``path`` atomically."""
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as stream:
            np.savez(stream, **arrays)
