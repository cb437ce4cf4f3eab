"""Results that repeat: exactly on one machine always, and across CPU machines on request.

Every training command seeds what it draws (initialisation, shuffling,
noise, pairs, dropout) from ``--seed``, so the same command repeats exactly
on the same machine. Across machines, TensorFlow's CPU results differ in
the last bits: oneDNN picks its kernels by the CPU's instruction set
(AVX-512 or AVX2) and splits its work by thread count, and XLA compiles for
the host CPU; those bits grow over training into visibly different numbers.
:func:`enable` (``--deterministic`` on the command line) removes these
causes: oneDNN's custom operations off, its remaining kernels (matrix
products) held to AVX2, one thread per operation, TensorFlow's op
determinism, and no XLA. Results are then equal on any x86-64 CPU with
AVX2 (tested by emulating other instruction sets and core counts), at the
cost measured in README.
"""

import os
import sys

from airtf.errors import AirtfError

ENVIRONMENT = {"TF_ENABLE_ONEDNN_OPTS": "0", "ONEDNN_MAX_CPU_ISA": "AVX2"}
"""Read by TensorFlow and oneDNN when they load: set before TensorFlow is imported."""
THREADS = 1
_enabled = False


def enable():
    """Make TensorFlow's CPU results independent of the machine (see the module docstring).

    Call it before anything imports TensorFlow (Keras with its TensorFlow
    backend does).

    Raises
    ------
    AirtfError
        TensorFlow is imported already: its kernels are chosen.
    """
    global _enabled
    if _enabled:
        return
    if "tensorflow" in sys.modules:
        raise AirtfError("deterministic results need airtf.runs.reproducible.enable() before TensorFlow is imported; "
                         "call it first thing, in a new process")
    os.environ.update(ENVIRONMENT)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(THREADS)
    tf.config.experimental.enable_op_determinism()
    _enabled = True


def enabled():
    """Whether :func:`enable` ran in this process."""
    return _enabled
