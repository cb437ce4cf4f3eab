"""Arrays of a user's .npz archive read as data, never as code.

NumPy stores an array of Python objects (OpenMIC-2018's ``sample_key`` is
one, of str) as a pickle, and loading it with NumPy's pickle support on
would run whatever a crafted pickle asks for. :func:`read_arrays` reads numeric
arrays as NumPy does and unpickles object arrays with an unpickler that
knows only how to rebuild an ndarray; their items must then be str or
bytes. Anything else is refused with an error naming the file.
"""

import io
import pickle
import zipfile

import numpy as np

from airtf.datasets.pipeline import DatasetError

_ARRAY_RECONSTRUCTOR = np.ndarray.__reduce__(np.zeros(0))[0]
"""The function NumPy's pickles call to rebuild an ndarray (``numpy.core.multiarray._reconstruct``)."""
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _ARRAY_RECONSTRUCTOR,
    ("numpy._core.multiarray", "_reconstruct"): _ARRAY_RECONSTRUCTOR,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
"""What an object array's pickle may name: the ndarray machinery, nothing that runs code."""


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds ndarrays and plain values, and refuses every other global."""

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[module, name]
        except KeyError:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which an array of strings never does") \
                from None


def _read_member(archive, member):
    """One .npy member of an open zip: a numeric array, or an object array unpickled safely."""
    with archive.open(member) as stream:
        version = np.lib.format.read_magic(stream)
        readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in readers:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, fortran_order, dtype = readers[version](stream)
        if not dtype.hasobject:
            count = int(np.prod(shape))
            data = stream.read(count * dtype.itemsize)
            if len(data) != count * dtype.itemsize:
                raise ValueError("the array's data is truncated")
            return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran_order else "C")
        array = _ArrayUnpickler(io.BytesIO(stream.read())).load()
    if not isinstance(array, np.ndarray) or array.dtype != object:
        raise pickle.UnpicklingError(f"it holds a {type(array).__name__}, not an array of strings")
    strangers = [item for item in array.ravel() if not isinstance(item, (str, bytes))]
    if strangers:
        raise pickle.UnpicklingError(f"it holds a {type(strangers[0]).__name__} where only strings belong")
    return array


def read_arrays(path, fix):
    """Every array of an .npz archive, object arrays restricted to strings.

    Parameters
    ----------
    path : str or os.PathLike
    fix : str
        What the user should do about a bad file, ending each message.

    Returns
    -------
    dict
        Array name -> np.ndarray.

    Raises
    ------
    DatasetError
        The file is not an .npz archive, an array is damaged, or an object
        array holds anything but strings (a crafted pickle is refused
        before any of it runs).
    """
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise DatasetError(f"{path}: not a NumPy .npz archive ({error}); {fix}") from None
    arrays = {}
    with archive:
        for member in archive.namelist():
            if not member.endswith(".npy"):
                continue
            name = member[: -len(".npy")]
            try:
                arrays[name] = _read_member(archive, member)
            except pickle.UnpicklingError as error:
                raise DatasetError(f"{path}: array {name!r} is refused ({error}); {fix}") from None
            except Exception as error:  # a damaged member fails in many ways (zlib, ValueError, EOFError, ...)
                raise DatasetError(f"{path}: array {name!r} is damaged ({type(error).__name__}: {error}); "
                                   f"{fix}") from None
    return arrays
