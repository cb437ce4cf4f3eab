"""Where extracted features go: files in OpenMIC-2018's layout, written as they stream in, or arrays.

``NAME.json`` holds ``{"time_points": [0.0, 0.96, ...], "features": [...]}``
(the release's key order and compact separators); ``NAME.npz`` holds the
arrays ``features`` and ``time_points``. A :class:`FeatureFile` takes a
file's features chunk by chunk into a scratch file beside its destination,
so memory holds one chunk, not a whole file's features (60 minutes of
log-mel are 2.9 GB as JSON text); :meth:`FeatureFile.commit` then writes
the destination atomically and :meth:`FeatureFile.discard` leaves nothing.
"""

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np

from airtf import params
from airtf.support import files

FORMATS = params.FEATURE_FORMATS
_SEPARATORS = (",", ":")
_COPY_BYTES = 1 << 20


class FeatureFile:
    """One file's features, appended in order of time and committed at the end.

    Parameters
    ----------
    path : str or os.PathLike
        The destination; its suffix (``.json`` or ``.npz``) picks the format.
    dtype : numpy dtype
        Of the features (uint8 for PCA features, float32 otherwise).
    row_shape : tuple of int
        Shape of one example's features: (128,), or (96, 64) for log-mel.
    hop_seconds : float
        Time from one example to the next, for the time points (VGGish's 0.96 s).
    """

    keeps_empty = False
    """A file without examples gets no output (see :attr:`airtf.features.extract.Report.empty`)."""

    def __init__(self, path, dtype, row_shape, hop_seconds=params.EXAMPLE_HOP_SECONDS):
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        self.row_shape = tuple(row_shape)
        self.hop_seconds = hop_seconds
        self.count = 0
        self._scratch = None

    def append(self, features):
        """Add the features of the next examples, (n, *row_shape), to the scratch file."""
        features = np.asarray(features).astype(self.dtype, copy=False)
        if not len(features):
            return
        if self._scratch is None:
            self._scratch = files.new_temporary(self.path)
        try:
            with open(self._scratch, "ab") as stream:
                if self.path.suffix == ".npz":
                    stream.write(np.ascontiguousarray(features).tobytes())
                else:
                    rows = ",".join(json.dumps(row, separators=_SEPARATORS) for row in features.tolist())
                    stream.write(((b"," if self.count else b"") + rows.encode()))
        except OSError as error:
            if files.is_write_error(error):
                raise files.write_error(self.path, error) from None
            raise
        self.count += len(features)

    def commit(self):
        """Write the destination atomically from the scratch file, then remove it; return the example count.

        Without examples nothing is written (:attr:`keeps_empty`).
        """
        from airtf.vggish.audio_converter import example_time_points

        if not self.count:
            self.discard()
            return 0
        time_points = example_time_points(self.count, self.hop_seconds)
        with files.atomic_path(self.path) as temporary:
            if self.path.suffix == ".npz":
                self._write_npz(temporary, time_points)
            else:
                self._write_json(temporary, time_points)
        self.discard()
        return self.count

    def discard(self):
        """Remove the scratch file (nothing of this file is left)."""
        if self._scratch is not None:
            files.remove_quietly(self._scratch)
            self._scratch = None

    def _write_json(self, temporary, time_points):
        with open(temporary, "wb") as stream:
            stream.write(b'{"time_points":' + json.dumps(time_points, separators=_SEPARATORS).encode()
                         + b',"features":[')
            self._copy_scratch(stream)
            stream.write(b"]}")

    def _write_npz(self, temporary, time_points):
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": (self.count, *self.row_shape)}
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            with archive.open("features.npy", "w", force_zip64=True) as stream:
                np.lib.format.write_array_header_2_0(stream, header)
                self._copy_scratch(stream)
            with archive.open("time_points.npy", "w") as stream:
                np.lib.format.write_array(stream, np.asarray(time_points, np.float64))

    def _copy_scratch(self, stream):
        if self._scratch is not None:
            with open(self._scratch, "rb") as scratch:
                shutil.copyfileobj(scratch, stream, _COPY_BYTES)


class FeatureArray:
    """One input's features kept in memory, with :class:`FeatureFile`'s interface (for :func:`airtf.embed`).

    Parameters
    ----------
    name : str
        What reports call it.
    dtype, row_shape
        As :class:`FeatureFile`'s.

    Attributes
    ----------
    features : np.ndarray or None
        (n, *row_shape) once committed.
    """

    keeps_empty = True
    """Audio without examples gives an empty array."""

    def __init__(self, name, dtype, row_shape):
        self.path = name
        self.dtype = np.dtype(dtype)
        self.row_shape = tuple(row_shape)
        self.features = None
        self._chunks = []

    def append(self, features):
        """Keep the features of the next examples."""
        self._chunks.append(np.asarray(features).astype(self.dtype, copy=False))

    def commit(self):
        """Join the chunks into :attr:`features`; return the example count."""
        self.features = (np.concatenate(self._chunks) if self._chunks
                         else np.zeros((0, *self.row_shape), self.dtype))
        self._chunks = []
        return len(self.features)

    def discard(self):
        """Forget the chunks of an input that failed."""
        self._chunks = []
