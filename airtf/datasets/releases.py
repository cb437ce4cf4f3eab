"""The released archives of OpenMIC-2018 and NSynth: download, verify, unpack, once.

``releases.json`` (package data) names each archive with its published size
and checksum (OpenMIC's md5 from Zenodo; NSynth's TFRecord sha256 as
TensorFlow Datasets records them). The NSynth json/wav archives have no
published checksum: the first complete download records its size and sha256
in the data set folder's ``.airtf-download.json`` and says so.

That file also records each archive verified and unpacked, so rerunning
over a complete data set does nothing; an archive is unpacked only after it
verified, and deleted after a verified unpack unless ``keep_archives``.
"""

import dataclasses
import json
import time
from pathlib import Path

from airtf.support import archives, downloads, locks
from airtf.support.files import check_writable, display, size_text, write_json

RECORD_NAME = ".airtf-download.json"
ARCHIVES_FOLDER = "archives"
SPLITS = ("train", "valid", "test")
COMMAND = "airtf-data download"


@dataclasses.dataclass(frozen=True)
class Archive(downloads.PublishedFile):
    """One published archive of a data set (see :class:`airtf.support.downloads.PublishedFile`).

    ``into`` is the folder, inside the data set's, that receives the archive's
    files (NSynth's TFRecord shards); "" for the data set's folder itself.
    """

    into: str = ""


def manifest():
    """Data set name -> its entry in releases.json (title, root, formats: split -> published file)."""
    return json.loads((Path(__file__).with_name("releases.json")).read_text())


def formats(name):
    """The formats in which data set ``name`` is released (the first is the default)."""
    return list(manifest()[name]["formats"])


def archives_of(name, format=None, splits=None, mirror=None):
    """The :class:`Archive` list of data set ``name`` in ``format``, for ``splits`` (NSynth), from ``mirror``."""
    files = manifest()[name]["formats"][format or formats(name)[0]]
    chosen = [split for split in files if splits is None or split in splits or split == "all"]
    archives = [Archive.from_entry(files[split], into=files[split].get("into", "")) for split in chosen]
    return [archive.at(mirror) for archive in archives] if mirror else archives


def _read_record(out):
    path = Path(out) / RECORD_NAME
    return json.loads(path.read_text()) if path.is_file() else {}


@dataclasses.dataclass
class Outcome:
    """What :func:`fetch` did with one archive: ``action`` and a line for the user."""

    archive: str
    action: str
    message: str


def fetch(name, out, format=None, splits=None, mirror=None, keep_archives=False, progress=None,
          timeout=30.0):
    """Download, verify and unpack data set ``name`` into ``out``; skip what is already done.

    Parameters
    ----------
    name : {"openmic", "nsynth"}
    out : Path
        The data set's folder (what the loaders and ``airtf-data check`` read).
    format : str or None
        One of :func:`formats` (NSynth: "jsonwav" or "tfrecord").
    splits : sequence of str or None
        NSynth splits to fetch (default all).
    mirror : str or None
        A base URL that replaces the published one.
    keep_archives : bool
        Keep the archives (in ``out/archives``) after a verified unpack.
    progress : callable or None
        ``progress(archive_name)`` -> a ``(done, total)`` callback, for a progress bar.

    Returns
    -------
    list of Outcome

    Raises
    ------
    airtf.support.locks.FolderInUseError
        Another process is downloading into ``out``.
    """
    out = Path(out)
    check_writable(out)
    with locks.holding(out, COMMAND):
        return _fetch(name, out, format, splits, mirror, keep_archives, progress, timeout)


def _fetch(name, out, format, splits, mirror, keep_archives, progress, timeout):
    """:func:`fetch`, holding the lock of ``out``."""
    record = _read_record(out)
    todo = [archive for archive in archives_of(name, format, splits, mirror)
            if not record.get(archive.name, {}).get("unpacked")]
    outcomes = [Outcome(archive.name, "present", f"{archive.name}: verified and unpacked on "
                                                   f"{record[archive.name]['unpacked']}; nothing to do")
                for archive in archives_of(name, format, splits, mirror) if archive not in todo]
    if not todo:
        return outcomes
    sizes = {archive.name: archive.bytes or downloads.remote_size(archive.url, timeout) or 0 for archive in todo}
    folder = out / ARCHIVES_FOLDER
    have = sum(_bytes_on_disk(folder / archive.name) for archive in todo)
    # the archives still to come, and their unpacked files (at least the archives' size)
    downloads.check_free_space(out, 2 * sum(sizes.values()) - have)
    folder.mkdir(parents=True, exist_ok=True)
    for archive in todo:
        outcomes.append(_fetch_one(archive, sizes[archive.name], out, name, record, keep_archives, progress,
                                   timeout))
    return outcomes


def _bytes_on_disk(path):
    """Bytes of ``path`` or of its partial download."""
    for candidate in (path, downloads.partial_path(path)):
        if candidate.is_file():
            return candidate.stat().st_size
    return 0


def _fetch_one(archive, size, out, name, record, keep_archives, progress, timeout):
    """Download (or resume), verify and unpack one archive, recording each step."""
    path = out / ARCHIVES_FOLDER / archive.name
    action = "present" if path.is_file() else downloads.download(
        archive.url, path, archive.bytes, timeout, progress(archive.name) if progress else None)
    recorded = record.get(archive.name, {})
    checksums = archive.checksums or {key: recorded[key] for key in ("sha256",) if key in recorded}
    sha256 = downloads.verify(path, archive.bytes or recorded.get("bytes") or (size or None), checksums)
    notes = []
    if not archive.checksums and "sha256" not in recorded:
        notes.append(f"no published checksum: recorded {path.stat().st_size} bytes and sha256 {sha256} "
                     f"in {display(out / RECORD_NAME)} at this first complete download")
    record[archive.name] = {"bytes": path.stat().st_size, "sha256": sha256, "verified": _now()}
    write_json(out / RECORD_NAME, record)
    target = out / archive.into
    entries = archives.unpack(path, target, manifest()[name]["root"])
    record[archive.name]["unpacked"] = _now()
    record[archive.name]["entries"] = sorted(entry.name for entry in entries)
    write_json(out / RECORD_NAME, record)
    if not keep_archives:
        path.unlink()
        notes.append("archive deleted after the verified unpack (--keep-archives keeps it)")
    verb = {"present": "found", "resumed": "resumed and finished", "downloaded": "downloaded"}[action]
    message = (f"{archive.name}: {verb}, {size_text(record[archive.name]['bytes'])}, verified, unpacked into "
               f"{display(target)} ({', '.join(record[archive.name]['entries'])})")
    return Outcome(archive.name, action, "; ".join([message, *notes]))


def _now():
    return time.strftime("%Y-%m-%d %H:%M:%S")
