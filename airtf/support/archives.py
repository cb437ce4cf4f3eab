"""Safe unpacking of tar archives: all or nothing, and nothing outside the target folder.

Every member is checked before anything is written: absolute paths, ``..``,
links that leave the archive's folder, devices and pipes are refused, naming
the archive and the member. The archive is unpacked into a temporary folder
beside the target and its entries are then moved into place, so an
interrupted unpack never leaves a half layout.
"""

import os
import posixpath
import shutil
import tarfile
from pathlib import Path

from airtf.errors import AirtfError
from airtf.support.files import display

STAGING_PREFIX = ".airtf-unpacking-"


class ArchiveError(AirtfError):
    """An archive is unreadable, holds an unsafe member, or would overwrite a file."""


def _leaves_root(path):
    """Whether a POSIX member path is absolute or climbs out of the archive's folder."""
    normal = posixpath.normpath(path)
    return posixpath.isabs(path) or normal == ".." or normal.startswith("../")


def unsafe_member(member):
    """Why ``member`` (a tarfile.TarInfo) may not be unpacked, or None when it may."""
    if _leaves_root(member.name):
        return "its path leaves the target folder"
    if member.isdev() or member.isfifo():
        return "it is a device or a pipe"
    if member.issym() and _leaves_root(posixpath.join(posixpath.dirname(member.name), member.linkname)):
        return f"it links to {member.linkname}, outside the target folder"
    if member.islnk() and _leaves_root(member.linkname):
        return f"it is a hard link to {member.linkname}, outside the target folder"
    return None


def unpack(archive, into, root=""):
    """Unpack ``archive`` (tar, tar.gz, ...) into the folder ``into``.

    Parameters
    ----------
    archive : Path
    into : Path
        The folder that receives the archive's entries (created if missing).
    root : str
        A folder inside the archive whose contents are the data set (e.g.
        ``openmic-2018``); "" for the archive's top level.

    Returns
    -------
    list of Path
        The entries moved into ``into``.
    """
    archive, into = Path(archive), Path(into)
    into.mkdir(parents=True, exist_ok=True)
    staging = into / f"{STAGING_PREFIX}{archive.name}"
    shutil.rmtree(staging, ignore_errors=True)  # left by an interrupted earlier unpack
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                reason = unsafe_member(member)
                if reason:
                    raise ArchiveError(f"{display(archive)}: refused member {member.name!r}: {reason}; "
                                       "nothing was unpacked (the archive is not the published one)")
            staging.mkdir()
            tar.extractall(staging, members, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    except (tarfile.TarError, EOFError, OSError) as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise ArchiveError(f"{display(archive)}: cannot unpack ({error}); the archive is damaged: "
                           "delete it and rerun") from None
    except ArchiveError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    source = staging / root if root else staging
    if not source.is_dir():
        shutil.rmtree(staging, ignore_errors=True)
        raise ArchiveError(f"{display(archive)}: holds no folder {root}/; it is not the published archive")
    entries = sorted(source.iterdir())
    taken = [entry.name for entry in entries if (into / entry.name).exists()]
    if taken:
        shutil.rmtree(staging, ignore_errors=True)
        raise ArchiveError(f"{display(into)}: already holds {', '.join(taken)}, which {archive.name} would "
                           "replace; move them away, or unpack into an empty folder")
    moved = []
    for entry in entries:
        os.replace(entry, into / entry.name)
        moved.append(into / entry.name)
    shutil.rmtree(staging)
    return moved
