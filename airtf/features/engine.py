"""The feature engine: audio files to per-example features of any model, through the one array cache.

:func:`file_features` gives each file's features as an
:class:`~airtf.features.extract.Extractor` computes them (log-mel examples,
or a model's outputs of them: streamed, batched across files, resampled
exactly), fitted to a number of examples per file. It reads what the cache
holds and computes only the rest. An entry is keyed by its audio file and by
``computed_by``, the caller's description of the model the caller also hands
over (see :mod:`airtf.support.array_cache`), so that another model is
another key, never a stale entry. Interrupted, it keeps the files done.
"""

import numpy as np
from tqdm import tqdm

from airtf.support import array_cache, interrupts

FILES_PER_CALL = 64
"""Files handed to the extractor at once; their entries are written before the next call."""


def entries(paths, folder, computed_by):
    """The cache entry of each file (see :func:`airtf.support.array_cache.entry`)."""
    return [array_cache.entry(folder, path, computed_by) for path in paths]


def file_features(paths, make_extractor, folder, computed_by, examples, row_shape, progress=None):
    """Every file's features, ``examples`` per file: (len(paths), examples, *row_shape) float32.

    Parameters
    ----------
    paths : list of Path
        Audio files (they must exist).
    make_extractor : callable
        Returns the :class:`~airtf.features.extract.Extractor` (and so the
        model) that computes the features; called only when a file is not
        in the cache, so that a cached run loads no model.
    folder : Path
        The cache folder.
    computed_by : dict
        What the cache key says of the computation: the model's identity.
    examples : int
        Examples kept per file: the first ones, then the features of an
        example of silence (:meth:`~airtf.features.extract.Extractor.silence`) up to that count.
    row_shape : tuple of int
        The shape of one example's features: (96, 64) for log-mel, (128,) for VGGish, (753,) for musicnn's max_pool.
    progress : str or None
        Label of a progress bar over the files computed (shown on a terminal).

    Raises
    ------
    AirtfError
        A file that cannot be decoded, its message naming it.
    """
    files = entries(paths, folder, computed_by)
    pending = [index for index, file in enumerate(files) if not file.is_file()]
    if pending:
        extractor = make_extractor()
        padding = extractor.silence()
        with tqdm(total=len(pending), desc=progress, unit="file", disable=None if progress else True) as bar:
            for start in range(0, len(pending), FILES_PER_CALL):
                interrupts.raise_if_interrupted()
                chunk = pending[start:start + FILES_PER_CALL]
                for index, rows in zip(chunk, extractor.arrays([paths[index] for index in chunk])):
                    array_cache.write(files[index], fitted(rows, examples, padding))
                bar.update(len(chunk))
    if not files:
        return np.zeros((0, examples, *row_shape), np.float32)
    return np.stack([array_cache.read(file, (examples, *row_shape)) for file in files])


def fitted(rows, count, padding):
    """``rows`` trimmed to ``count``, or followed by copies of ``padding`` up to it; float32."""
    rows = np.asarray(rows, np.float32)[:count]
    missing = count - len(rows)
    return np.concatenate([rows, np.repeat(padding[np.newaxis].astype(np.float32), missing, axis=0)])
