"""One writer per folder: the exclusive lock every command that writes a run directory holds.

``airtf-eval``, ``airtf-pretrain``, ``airtf-export`` and ``airtf-data
download`` take the lock of their output folder before they read or write
anything in it, and hold it to the end. A second process asking for the same
folder is refused at once with :class:`FolderInUseError`, whose one line
names the holder (command, process, host, start time) and the fix.

The lock is a ``flock`` on a small file (``.airtf-lock`` inside a run
directory, or beside a folder that is replaced as a whole, as an export is)
that also records who holds it. The kernel drops a lock when its process
ends, however it ends, so the lock of a process killed with ``kill -9`` is
simply taken by the next command; the file itself is removed when its holder
lets go. Local file systems and NFS (through its lock manager) lock; where a
file system cannot, the command warns once (:class:`LockWarning`) and runs
unguarded. ``airtf-extract`` takes no lock: each of its outputs is written
atomically, so extractions into one folder stay safe side by side.
"""

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
import warnings
from pathlib import Path

from airtf.errors import AirtfError, AirtfWarning, WriteError
from airtf.support.files import display, is_write_error, write_error

LOCK_NAME = ".airtf-lock"
_UNLOCKABLE = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}
"""flock errors of a file system that cannot lock (rather than of a lock held)."""
_ATTEMPTS = 10
_held = {}
"""Lock file (absolute) -> [descriptor, depth] of the locks this process holds: holding one again nests."""


class FolderInUseError(AirtfError):
    """Another process holds the lock of the folder a command would write."""


class LockWarning(AirtfWarning):
    """The file system of an output folder cannot lock: two commands writing it at once would not be stopped."""


def lock_file(folder, beside=False):
    """Where the lock of ``folder`` lives: inside it, or (``beside``, for a folder replaced whole) next to it."""
    folder = Path(folder).absolute()
    return folder.with_name(f"{LOCK_NAME}.{folder.name}") if beside else folder / LOCK_NAME


@contextlib.contextmanager
def holding(folder, command, beside=False):
    """Hold the exclusive lock of ``folder`` (made if missing) for the block; see the module docstring.

    A process holding the lock may ask for it again (a command takes it
    before importing TensorFlow, the function it calls takes it too); the
    outermost block lets go.

    Parameters
    ----------
    folder : str or os.PathLike
        The output folder: a run directory, an export, a data set's folder.
    command : str
        Who holds it, as the refusal names it ("airtf-eval").
    beside : bool
        Keep the lock file next to ``folder`` rather than in it.

    Raises
    ------
    FolderInUseError
        Another process holds it.
    airtf.errors.WriteError
        The lock file cannot be made (read-only disk, no permission, a file
        where the folder should be).
    """
    folder = Path(folder)
    path = lock_file(folder, beside)
    if path in _held:
        _held[path][1] += 1
        try:
            yield
        finally:
            _held[path][1] -= 1
        return
    made = _make_folder(path.parent)
    try:
        _held[path] = [_acquire(path, folder, command), 1]
        yield
    finally:
        descriptor, _ = _held.pop(path, (None, 0))
        if descriptor is not None:
            _release(path, descriptor)
        for made_folder in made:  # only what this call made, and only when it stayed empty
            with contextlib.suppress(OSError):
                made_folder.rmdir()


def _make_folder(folder):
    """Make ``folder`` and its missing parents; return those it made, innermost first."""
    missing = [path for path in (folder, *folder.parents) if not path.exists()]
    if folder.exists() and not folder.is_dir():
        raise WriteError(f"{display(folder)}: is a file, not a folder; choose another output folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        if is_write_error(error):
            raise write_error(folder, error) from None
        raise WriteError(f"{display(folder)}: cannot make this folder ({error.strerror or error}); choose another "
                         "output folder") from None
    return missing


def _acquire(path, folder, command):
    """Lock ``path`` and write who holds it; the open descriptor, or None where the file system cannot lock."""
    for _ in range(_ATTEMPTS):
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as error:
            if is_write_error(error):
                raise write_error(path, error) from None
            raise WriteError(f"{display(path)}: cannot make the lock file ({error.strerror or error}); remove "
                             "what is there, or choose another output folder") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(descriptor)
            os.close(descriptor)
            raise FolderInUseError(f"{display(folder)}: in use by {holder}; wait for it to end, or choose another "
                                   "output folder") from None
        except OSError as error:
            if error.errno not in _UNLOCKABLE:
                os.close(descriptor)
                raise
            warnings.warn(f"{display(folder)}: this file system cannot lock ({error.strerror}); nothing stops a "
                          "second command from writing the folder at the same time", LockWarning, stacklevel=4)
            os.close(descriptor)
            return None
        if _still_there(path, descriptor):
            _record(descriptor, command)
            return descriptor
        os.close(descriptor)  # its holder removed it as we opened it: lock the new one
    raise FolderInUseError(f"{display(folder)}: its lock keeps changing hands; wait for the other commands to end")


def _still_there(path, descriptor):
    """Whether ``path`` still names the file open as ``descriptor`` (a holder removes it when it lets go)."""
    try:
        found = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(descriptor)
    return (found.st_dev, found.st_ino) == (held.st_dev, held.st_ino)


def _record(descriptor, command):
    """Write who holds the lock into its file, for the message of whoever is refused."""
    holder = {"command": command, "pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    data = json.dumps(holder).encode()
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, data, 0)


def _holder(descriptor):
    """The holder recorded in a lock file, as a refusal names it."""
    try:
        holder = json.loads(os.pread(descriptor, 4096, 0))
        started = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(float(holder["started"])))
        return f"{holder['command']} (pid {int(holder['pid'])} on {holder['host']}, since {started})"
    except (OSError, ValueError, KeyError, TypeError):  # being written this very moment
        return "another airtf command"


def _release(path, descriptor):
    """Remove the lock file while still holding it, then let go."""
    with contextlib.suppress(OSError):
        if _still_there(path, descriptor):
            os.unlink(path)
    os.close(descriptor)
