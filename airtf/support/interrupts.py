"""Ctrl-C that always stops a command, however deep in TensorFlow it lands.

Python turns SIGINT into a KeyboardInterrupt wherever the main thread is;
when that is a ``__del__`` or a callback whose exceptions are ignored
(TensorFlow runs many), the interrupt is lost and the command runs on. Under
:func:`interruptible`, SIGINT also sets a flag that the long loops check
with :func:`raise_if_interrupted`, so the command stops at the next file,
batch or element even then.
"""

import contextlib
import signal
import threading

_interrupted = threading.Event()


def _on_sigint(signum, frame):
    _interrupted.set()
    raise KeyboardInterrupt


@contextlib.contextmanager
def interruptible():
    """Within the block, SIGINT raises KeyboardInterrupt and sets the flag (main thread only)."""
    _interrupted.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupted():
    """Whether SIGINT arrived under :func:`interruptible`."""
    return _interrupted.is_set()


def raise_if_interrupted():
    """Raise KeyboardInterrupt if SIGINT arrived, even if its first KeyboardInterrupt was lost."""
    if _interrupted.is_set():
        raise KeyboardInterrupt
