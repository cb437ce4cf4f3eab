"""Keep TensorFlow's, XLA's and libmpg123's native log lines out of a command's output.

TensorFlow 2.21 logs through absl from C++, before and whatever
``TF_CPP_MIN_LOG_LEVEL`` says ("All log messages before absl::InitializeLog()
...", "I0000 ... port.cc:153] oneDNN custom operations are on", "XLA service
... initialized", "Compiled cluster using XLA!"), and libmpg123 (under
soundfile) writes "Note: Trying to resync..." for a broken MP3, which airtf
reports itself. :func:`filter_native_logs`
routes the process's stderr (file descriptor 2) through a thread that drops
those lines below the level ``TF_CPP_MIN_LOG_LEVEL`` names (0 keeps all; 3,
airtf's default, keeps only fatal ones) and passes everything else through
unchanged, progress bars included.
"""

import atexit
import os
import re
import sys
import threading

_NATIVE_LINE = re.compile(
    rb"^(?:(?P<absl>[IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\]"  # absl: I0000 00:00:17.5 123 port.cc:153]
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: (?P<tsl>[IWEF]) \S+:\d+\]"  # tsl: 2026-12-02 07:36:31.6: I port.cc:113]
    rb"|(?P<notice>WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"
    rb"|Note: (?:Illegal Audio-MPEG-Header 0x[0-9a-f]+ at offset \d+\.|Trying to resync\.\.\."
    rb"|Hit end of \(available\) data during resync\.)$))")  # libmpg123, under soundfile, on a broken MP3
_CONTINUATION = re.compile(rb"^To enable the following instructions: ")
"""The second line of TensorFlow's CPU feature notice."""
_OPENINGS = (b"WARNING: All log messages", b"To enable the following", b"Note: ")
SEVERITIES = b"IWEF"
_installed = None


def _may_become_native(text):
    """Whether a line's beginning could still grow into a native log line (held back until it ends)."""
    if text[:1] in (b"I", b"W", b"E", b"F") and (len(text) == 1 or text[1:2].isdigit()):
        return True
    return text[:1].isdigit() or any(opening.startswith(text) or text.startswith(opening) for opening in _OPENINGS)


def _dropped(line, level, after_dropped):
    """Whether a whole line (without its newline) is a native log line below ``level``."""
    if after_dropped and _CONTINUATION.match(line):
        return True
    match = _NATIVE_LINE.match(line)
    if not match:
        return False
    if match["notice"]:
        return level > 0
    severity = match["absl"] or match["tsl"]
    return SEVERITIES.index(severity) < level


def _pump(source, target, level):
    """Copy ``source`` to ``target`` (file descriptors), leaving out the native log lines."""
    pending, after_dropped = b"", False
    while True:
        chunk = os.read(source, 65536)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        out = []
        for line in lines:
            dropped = _dropped(line, level, after_dropped)
            after_dropped = dropped
            if not dropped:
                out.append(line + b"\n")
        if pending and not _may_become_native(pending):  # a progress bar's \r update: show it now
            out.append(pending)
            pending = b""
        if out:
            os.write(target, b"".join(out))
    if pending and not _dropped(pending, level, after_dropped):
        os.write(target, pending)
    os.close(source)


def filter_native_logs():
    """Route stderr through the filter (see the module docstring); once per process, until it exits.

    Does nothing when ``TF_CPP_MIN_LOG_LEVEL`` is 0 or stderr cannot be
    redirected.
    """
    global _installed
    level = int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") or 0)
    if _installed is not None or level <= 0:
        return
    try:
        sys.stderr.flush()
        original = os.dup(2)
        reader, writer = os.pipe()
        os.dup2(writer, 2)
        os.close(writer)
    except OSError:
        return
    thread = threading.Thread(target=_pump, args=(reader, original, min(level, 3)), name="native-log-filter",
                              daemon=True)
    thread.start()
    _installed = (original, thread)
    atexit.register(_restore)


def _restore():
    """Put stderr back and let the filter pass on what it still holds."""
    global _installed
    if _installed is None:
        return
    original, thread = _installed
    _installed = None
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os.dup2(original, 2)  # closes the pipe's last writer: the filter reads to its end
    thread.join(timeout=5)
