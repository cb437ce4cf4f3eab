"""Resumable, verified downloads over HTTP(S).

A download goes to ``NAME.partial`` beside its target; when a run stops (a
dropped connection, Ctrl-C, kill -9), the next run asks the server for the
rest with a Range request and appends it. A server that ignores Range sends
the whole file again, which then replaces the partial one. Only a file of
the published size and checksum is renamed to its target.
"""

import dataclasses
import http.client
import os
import posixpath
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from airtf.errors import AirtfError
from airtf.support.files import digest, display, free_bytes, size_text

CHUNK = 1 << 20
PARTIAL_SUFFIX = ".partial"
CHECKSUMS = ("sha256", "md5")
"""The checksums a release may publish, the strongest first."""
MIRROR = "give a mirror with --mirror"
"""Where else to get a file, as a download's errors say it: airtf-data download's --mirror."""


class DownloadError(AirtfError):
    """A download failed, does not fit the disk, or its file is not the published one."""


@dataclasses.dataclass(frozen=True)
class PublishedFile:
    """A file as its publisher lists it: its address, size and checksums ({algorithm: hex}; either may be unknown).

    Every manifest airtf ships (``vggish/presets.json``, ``datasets/releases.json``)
    lists files in one form, read by :meth:`from_entry`.
    """

    url: str
    bytes: int | None = None
    checksums: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_entry(cls, entry, **extra):
        """A manifest entry, ``{"url": ..., "bytes": ..., "sha256": ..., "md5": ...}`` (size and checksums optional)."""
        return cls(entry["url"], entry.get("bytes"),
                   {algorithm: entry[algorithm] for algorithm in CHECKSUMS if algorithm in entry}, **extra)

    @property
    def name(self):
        """The file name, the last part of its address."""
        return posixpath.basename(urllib.parse.urlsplit(self.url).path)

    def at(self, mirror):
        """The same file at a mirror: ``mirror`` (a base address) followed by its name."""
        return dataclasses.replace(self, url=f"{mirror.rstrip('/')}/{self.name}")


def partial_path(target):
    """Where the unfinished download of ``target`` grows."""
    target = Path(target)
    return target.with_name(target.name + PARTIAL_SUFFIX)


def remote_size(url, timeout=30.0):
    """The size the server announces for ``url`` (a HEAD request), or None."""
    with _open(urllib.request.Request(url, method="HEAD"), timeout) as response:
        length = response.headers.get("Content-Length")
    return int(length) if length else None


def _open(request, timeout, elsewhere=MIRROR):
    """``urllib.request.urlopen(request)``, its failures as one-line :class:`DownloadError` s."""
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        raise DownloadError(f"{request.full_url}: HTTP {error.code} {error.reason}; check the address, or "
                            f"{elsewhere}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        raise DownloadError(f"{request.full_url}: cannot download ({getattr(error, 'reason', error)}); check the "
                            f"network, or {elsewhere}") from None


def check_free_space(folder, needed):
    """Raise :class:`DownloadError` when ``folder``'s file system has less than ``needed`` bytes free."""
    free = free_bytes(folder)
    if free < needed:
        raise DownloadError(f"{display(folder)}: needs {size_text(needed)} (archives and unpacked files), "
                            f"{size_text(free)} free; free some space or choose another --out")


def download(url, target, size=None, timeout=30.0, progress=None, elsewhere=MIRROR):
    """Download ``url`` to ``target``, continuing a partial download of an earlier run.

    Parameters
    ----------
    url : str
    target : Path
    size : int or None
        The published size in bytes, when known.
    timeout : float
        Seconds to wait for the server before giving up.
    progress : callable or None
        ``progress(done, total)`` after every chunk (total None when unknown).
    elsewhere : str
        Where else to get the file, for the errors of a server that cannot be
        reached or serves another file.

    Returns
    -------
    str
        "downloaded", or "resumed" when an earlier partial download was continued.
    """
    target, partial = Path(target), partial_path(target)
    have = partial.stat().st_size if partial.is_file() else 0
    if size is not None and have > size:
        have = 0
    if size is not None and have == size:
        os.replace(partial, target)
        return "resumed"
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with _open(request, timeout, elsewhere) as response:
        resumed = bool(have) and response.status == 206
        if not resumed:
            have = 0  # a fresh download, or a server that ignores Range: start over
        length = response.headers.get("Content-Length")
        total = have + int(length) if length else size
        if size is not None and total != size:
            raise DownloadError(f"{url}: the server offers {total} bytes, the published file has {size}; it serves "
                                f"another file: check the address, or {elsewhere}")
        _receive(response, partial, have, total, url, progress)
    received = partial.stat().st_size
    if total is not None and received != total:
        raise DownloadError(f"{url}: the connection ended after {received} of {total} bytes; "
                            "rerun the same command to continue from there")
    os.replace(partial, target)
    return "resumed" if resumed else "downloaded"


def _receive(response, partial, have, total, url, progress):
    """Append the response's body to ``partial`` (from byte ``have``), reporting progress."""
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | (os.O_APPEND if have else os.O_TRUNC)
    with open(os.open(partial, flags, 0o644), "wb") as stream:
        done = have
        if progress:
            progress(done, total)
        try:
            for chunk in iter(lambda: response.read1(CHUNK), b""):
                stream.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
        except (OSError, http.client.HTTPException) as error:
            stream.flush()
            raise DownloadError(f"{url}: the connection broke after {done} of {total or '?'} bytes "
                                f"({error.__class__.__name__}); rerun the same command to continue "
                                "from there") from None


def verify(path, size=None, checksums=None, fix="delete it and rerun"):
    """Check ``path`` against its published size and checksums ({algorithm: hex}).

    Returns the file's sha256 (computed once; also for files without a
    published checksum). Raises :class:`DownloadError` naming the file, the
    expected and the found value, and ``fix``.
    """
    path = Path(path)
    found_size = path.stat().st_size
    if size is not None and found_size != size:
        raise DownloadError(f"{display(path)}: {found_size} bytes, expected {size}; the download is incomplete "
                            f"or another file: {fix}")
    checksums = checksums or {}
    found = {algorithm: digest(path, algorithm) for algorithm in {"sha256", *checksums}}
    for algorithm in CHECKSUMS:
        if algorithm in checksums and found[algorithm] != checksums[algorithm]:
            raise DownloadError(f"{display(path)}: {algorithm} {found[algorithm]}, expected {checksums[algorithm]}; "
                                f"the file is corrupt or another file: {fix}")
    return found["sha256"]
