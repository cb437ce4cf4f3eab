"""What a run will cost before it starts: measured steps extrapolated, and the disk it needs.

``airtf-pretrain --dry-run``, ``airtf-eval --dry-run`` and
``scripts/reproduce_paper --dry-run`` print a :class:`Plan`: what the run
will do, the time of a few real steps on this machine extrapolated to the
whole run, and the bytes it will write beside what the disk has free. The
runs themselves refuse to start when the disk cannot hold what they write
(:meth:`Plan.check_disk`).
"""

import dataclasses
import math
import os
import statistics
import time
from pathlib import Path

from airtf.errors import AirtfError
from airtf.support.files import display, free_bytes, size_text

WARMUP_STEPS = 2
"""Steps run before timing: the first ones trace and compile."""
MEASURED_STEPS = 5
"""Steps timed after the warm-up; their median is the time of one step."""


class PlanError(AirtfError):
    """The run cannot fit the free disk."""


@dataclasses.dataclass
class Plan:
    """A run's plan.

    Attributes
    ----------
    command : str
        e.g. "airtf-eval --features pca".
    out : Path
        Where the run writes (its disk is the one checked).
    lines : list of str
        What it will do: data, examples, steps, epochs, measured step times.
    seconds : float or None
        The estimated time on this machine; None when not measured.
    disk : dict
        What it writes, name -> bytes.
    """

    command: str
    out: Path
    lines: list
    seconds: float | None
    disk: dict

    @property
    def disk_bytes(self):
        """All it writes."""
        return sum(self.disk.values())

    def free_bytes(self):
        """Bytes free on the file system of ``out`` (or of its nearest existing parent)."""
        return free_bytes(self.out)

    def check_disk(self):
        """Raise :class:`PlanError` when the run writes more than the disk has free."""
        check_disk(self.out, self.disk)

    def __str__(self):
        estimate = ("not measured" if self.seconds is None else
                    f"about {duration_text(self.seconds)} ({self.seconds:.0f} s) on this machine ({machine()})")
        free = self.free_bytes()
        verdict = "fits" if self.disk_bytes <= free else "DOES NOT FIT: the run would refuse to start"
        return "\n".join([f"plan of {self.command} (a dry run: the run is not started, nothing is kept):",
                          *(f"  {line}" for line in self.lines),
                          f"  time: {estimate}",
                          f"  disk: about {size_text(self.disk_bytes)} ({self.disk_bytes} bytes: "
                          f"{disk_parts(self.disk) or 'nothing large'}) at {display(self.out)}, "
                          f"{size_text(free)} free: {verdict}"])


def total(seconds, needed, out):
    """A line for several plans together: their time and disk (as text or numbers) against the free space."""
    seconds, needed = float(seconds), int(needed)
    free = free_bytes(out)
    return (f"about {duration_text(seconds)} ({seconds:.0f} s) on this machine, {size_text(needed)} of disk "
            f"({size_text(free)} free at {display(out)}: {'fits' if needed <= free else 'DOES NOT FIT'})")


def check_disk(out, disk):
    """Raise :class:`PlanError` when ``disk`` (name -> bytes) exceeds the free space at ``out``."""
    needed, free = sum(disk.values()), free_bytes(out)
    if needed > free:
        raise PlanError(f"{display(out)}: the run writes about {size_text(needed)} ({disk_parts(disk)}), the "
                        f"disk has {size_text(free)} free; free some space or choose another --out (or --cache-dir)")


def disk_parts(disk):
    """``"checkpoints 1.2 GB, logs 3 MB"``: the parts of ``disk`` that write anything."""
    return ", ".join(f"{name} {size_text(count)}" for name, count in disk.items() if count)


def seconds_per_step(step, warmup=WARMUP_STEPS, steps=MEASURED_STEPS):
    """The median time of ``step()`` over ``steps`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def steps_of(examples, batch_size):
    """Batches in an epoch of ``examples``."""
    return math.ceil(examples / batch_size)


H5_BYTES_PER_WEIGHT = 4096
"""What a .weights.h5 file adds per weight variable, at most (VGGish's den-add checkpoint: 70 KB in all)."""


def weights_bytes(model):
    """Bytes of a float32 model's weights file on disk, its HDF5 overhead included."""
    return 4 * model.count_params() + H5_BYTES_PER_WEIGHT * len(model.weights)


def backup_bytes(model):
    """Bytes of a run's resume backup (:mod:`airtf.runs.backup`) of ``model`` trained with Adam, at its largest.

    Two slots, each holding the weights and Adam's two moments of every
    trainable weight.
    """
    trainable = 4 * sum(math.prod(int(size) for size in weight.shape) for weight in model.trainable_weights)
    return 2 * (weights_bytes(model) + 2 * trainable)


def bytes_on_disk(*paths):
    """What the files at ``paths`` that exist take: a rerun rewrites them in place or replaces them."""
    return sum(Path(path).stat().st_size for path in paths if Path(path).is_file())


def duration_text(seconds):
    """``"2 d 6 h"``, ``"3 h 05 min"``, ``"12 min"`` or ``"40 s"``."""
    minutes, hours = seconds / 60, seconds / 3600
    if hours >= 48:
        return f"{int(hours // 24)} d {int(hours % 24)} h"
    if hours >= 1:
        return f"{int(hours)} h {int(minutes % 60):02d} min"
    return f"{minutes:.0f} min" if minutes >= 1 else f"{seconds:.0f} s"


def machine():
    """This machine in a few words: CPU cores and GPUs as TensorFlow sees them."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"{os.cpu_count()} CPU cores, " + (f"{len(gpus)} GPU(s)" if gpus else "no GPU")
