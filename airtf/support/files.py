"""Atomic file writing: a reader never sees a half-written output, a write error is one line.

Each writer writes a temporary beside its destination and renames it into
place, so a kill leaves either the old file, the new file or a stray
temporary, never a truncated result. Temporaries are named
``.airtf-partial.<host>.<pid>.<token>.<name>`` and created exclusively: an
existing file or symbolic link of that name is never opened. The first
atomic write of a process into a folder removes the temporaries that this
host's ended processes left there (after a kill -9); nothing else is ever
deleted.

A write that fails for want of space or permission raises
:class:`airtf.errors.WriteError` naming the destination and the fix; the
temporary is removed and the destination is left as it was.
"""

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import sys
from pathlib import Path

import numpy as np

from airtf.errors import WriteError

PARTIAL_PREFIX = ".airtf-partial"
REPLACED_PREFIX = ".airtf-replaced"
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_TEMPORARY_NAME = re.compile(r"^\.airtf-(?:partial|replaced)\.([0-9a-f]{8})\.(\d+)\.[0-9a-z]+\.")
_FIXES = {
    errno.ENOSPC: "the disk is full: free space, or choose another output folder",
    errno.EDQUOT: "the disk quota is exceeded: free space, or choose another output folder",
    errno.EFBIG: "the file is too large for this file system: choose another output folder",
    errno.EROFS: "the file system is read-only: choose another output folder",
    errno.EACCES: "permission denied: make the folder writable, or choose another output folder",
    errno.EPERM: "permission denied: make the folder writable, or choose another output folder",
}
WRITE_ERRNOS = frozenset(_FIXES)
"""errno values that mean "cannot write here" rather than a bug."""
_cleaned_folders = set()
_ATTEMPTS = 100


def cache_home():
    """airtf's folder in the user cache: ``$XDG_CACHE_HOME/airtf``, else ``~/.cache/airtf``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "airtf"


def _checkout_models():
    """``models/`` of the source checkout airtf runs from, or None for an installed package."""
    root = Path(__file__).resolve().parents[2]
    folder = root / "models"
    return folder if (root / "setup.cfg").is_file() and folder.is_dir() else None


def models_dir():
    """Folder of the released model files (official VGGish, musicnn's checkpoints).

    ``$AIRTF_MODELS`` if set; else ``models/`` of the source checkout airtf
    runs from; else the user cache, ``$XDG_CACHE_HOME/airtf/models``
    (``~/.cache/airtf/models``).
    """
    if os.environ.get("AIRTF_MODELS"):
        return Path(os.environ["AIRTF_MODELS"])
    return _checkout_models() or cache_home() / "models"


def feature_cache():
    """The cache of computed log-mel and features: ``$AIRTF_CACHE``, else :func:`cache_home`."""
    return Path(os.environ["AIRTF_CACHE"]) if os.environ.get("AIRTF_CACHE") else cache_home()


def digest(path, algorithm):
    """Hex digest (``"sha256"``, ``"md5"``, ...) of a file, read in 1 MiB chunks."""
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def display(path):
    """``path`` as messages show it: relative to the current folder when it lies inside it, :func:`printable`."""
    path = Path(os.fsdecode(path))
    try:
        return printable(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return printable(path)


def printable(path):
    """A file name as text every terminal prints: bytes that are not UTF-8 escaped (``caf\\xe9.wav``).

    File systems hold any bytes; Python keeps those it cannot decode as
    surrogates, which a UTF-8 terminal refuses to print. Characters the
    terminal's own encoding lacks (an ASCII locale) are escaped too. For
    messages only: the result need not name the file any more.
    """
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
    return text.encode(encoding, "backslashreplace").decode(encoding)


def write_error(path, error):
    """The :class:`WriteError` for an OSError met while writing ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The destination being written.
    error : OSError

    Returns
    -------
    WriteError
        "path: cannot write (reason); fix".
    """
    reason = error.strerror or str(error)
    fix = _FIXES.get(error.errno, "check the folder and the disk, or choose another output folder")
    return WriteError(f"{path}: cannot write ({reason}); {fix}")


def is_write_error(error):
    """Whether an exception is an OSError of not being able to write (full, read-only, no permission)."""
    return isinstance(error, OSError) and error.errno in WRITE_ERRNOS


def _temporary_name(prefix, name):
    return f"{prefix}.{_HOST}.{os.getpid()}.{secrets.token_hex(4)}.{name}"


def _process_ended(pid):
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def remove_stale_temporaries(folder):
    """Remove the temporaries of this host's ended processes from ``folder`` (see the module docstring).

    Only names that this module makes are touched; a link is removed as a
    link, never followed. Each folder is looked at once per process.

    Returns
    -------
    list of Path
        What was removed.
    """
    folder = Path(folder)
    if folder in _cleaned_folders:
        return []
    _cleaned_folders.add(folder)
    removed = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            match = _TEMPORARY_NAME.match(entry.name)
            if not match or match[1] != _HOST or not _process_ended(int(match[2])):
                continue
            _remove_tree_or_link(Path(entry.path))
            removed.append(Path(entry.path))
    return removed


def _remove_tree_or_link(path):
    """Remove a folder of ours with its contents, or a file or link (never what a link points to)."""
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _create_exclusively(make, path):
    """Make a new temporary beside ``path`` with ``make(temporary)`` (which must fail if the name exists).

    A name already taken (by a link someone planted, say) is never opened:
    another name is drawn.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    for _ in range(_ATTEMPTS):
        temporary = path.with_name(_temporary_name(PARTIAL_PREFIX, path.name))
        try:
            make(temporary)
            return temporary
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, f"no free temporary name after {_ATTEMPTS} attempts", os.fspath(path))


def _new_file(path):
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    os.close(os.open(path, flags, 0o644))


def _raise_write_error(path, error):
    """Re-raise an OSError met writing ``path`` as a WriteError when it is one (naming ``path``, not a temporary)."""
    if not is_write_error(error):
        raise error
    named = error.filename
    temporary = named is not None and Path(os.fsdecode(named)).name.startswith((PARTIAL_PREFIX, REPLACED_PREFIX))
    raise write_error(path if named is None or temporary else os.fsdecode(named), error) from None


def new_temporary(path):
    """Create a new, empty temporary file beside ``path`` and return its path; the caller removes it.

    Named and created as the module docstring says, so a kill leaves
    nothing that the next write into the folder does not remove.
    """
    path = Path(path)
    try:
        return _create_exclusively(_new_file, path)
    except OSError as error:
        _raise_write_error(path, error)


def remove_quietly(path):
    """Remove a file if it is there; an error doing so (a read-only disk) never hides the one being handled."""
    with contextlib.suppress(OSError):
        Path(path).unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a new, empty temporary file beside ``path``; rename it to ``path`` on success.

    The temporary keeps the destination's suffixes (Keras insists on
    ``.weights.h5``), and is removed if the block raises. A write error
    (full disk, read-only file system, no permission) becomes a WriteError.
    """
    path = Path(path)
    temporary = new_temporary(path)
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as error:
        _raise_write_error(path, error)
    finally:
        remove_quietly(temporary)


@contextlib.contextmanager
def atomic_directory(path):
    """Yield a new, empty temporary folder beside ``path``; on success it replaces ``path``.

    A folder already at ``path`` is moved aside, the new one renamed into
    place, then the old one deleted; on failure the temporary is removed and
    ``path`` is left as it was. Callers decide whether ``path`` may be
    replaced.
    """
    path = Path(path)
    temporary = replaced = None
    try:
        temporary = _create_exclusively(os.mkdir, path)
        yield temporary
        if path.exists():
            replaced = path.with_name(_temporary_name(REPLACED_PREFIX, path.name))
            os.replace(path, replaced)
        os.replace(temporary, path)
    except OSError as error:
        _raise_write_error(path, error)
    finally:
        for leftover in (temporary, replaced):
            if leftover is not None:
                _remove_tree_or_link(leftover)


def free_bytes(path):
    """Bytes free on the file system that holds ``path``, or would hold it (its nearest existing parent's)."""
    path = Path(path).absolute()
    return shutil.disk_usage(next(parent for parent in (path, *path.parents) if parent.exists())).free


def size_text(count):
    """Bytes as ``"1.23 GB"``, ``"45.6 MB"`` or ``"789 kB"``."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6)):
        if count >= scale:
            return f"{count / scale:.{2 if unit == 'GB' else 1}f} {unit}"
    return f"{count / 1e3:.0f} kB"


def check_writable(folder):
    """Make ``folder`` if needed and check that a file can be created in it, before any work.

    Returns
    -------
    Path
        ``folder``.

    Raises
    ------
    WriteError
        Naming the folder and the fix.
    """
    folder = Path(folder)
    try:
        remove_quietly(_create_exclusively(_new_file, folder / "write-check"))
    except OSError as error:
        if is_write_error(error):
            raise write_error(folder, error) from None
        # e.g. a file where a folder should be
        raise WriteError(f"{folder}: cannot write there ({error.strerror or error}); choose another output "
                         "folder") from None
    return folder


def write_json(path, data):
    """Write ``data`` as JSON to ``path`` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, separators=(",", ":")))


def write_npz(path, **arrays):
    """Write arrays to an .npz file at ``path`` atomically."""
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as stream:
            np.savez(stream, **arrays)
