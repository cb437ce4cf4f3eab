"""What the objectives on NSynth notes (and Freesound sounds) share: their data options, labelled examples and
the base class of the NSynth objectives."""

import numpy as np

from airtf.datasets import nsynth, sounds
from airtf.pretrain.objectives.base import Objective, option

EXAMPLES_OPTION = option("first", "which 0.96 s examples of each note or sound", choices=("first", "all"))
"""The ``examples`` option: see :mod:`airtf.datasets.sounds`."""
CACHE_OPTION = option(None, "keep decoded log-mel there (json/wav and audio files)", metavar="DIR")
"""The ``cache_dir`` option: see :func:`airtf.datasets.pipeline.log_mel_dataset`."""


def projector_examples(data_dir, limit, examples, count):
    """Up to ``count`` of NSynth's validation examples, each described for colouring and search in the projector.

    Read as the objectives read the split (``limit``, ``examples``).

    Returns
    -------
    examples : np.ndarray (n, 96, 64)
    rows : list of dict
        Per example: "family", "instrument", "source", "qualities" (the
        present ones, comma-separated, or "none") and "note".
    """
    notes = nsynth.load(data_dir, "valid", examples=examples, limit=limit)
    pairs = [(example.numpy(), _note_row(labels)) for example, labels in notes.take(count)]
    return np.stack([example for example, _ in pairs]), [row for _, row in pairs]


def _note_row(labels):
    """One note's labels (tensors, as :func:`airtf.datasets.nsynth.load` gives them) as projector metadata."""
    note = labels["note_str"].numpy().decode()
    present = [name for name, bit in zip(nsynth.QUALITIES, labels["qualities"].numpy()) if bit > 0.5]
    return {"family": nsynth.FAMILIES[int(labels["family"])], "instrument": note.rsplit("-", 2)[0],
            "source": nsynth.SOURCES[int(labels["source"])], "qualities": ", ".join(present) or "none", "note": note}


def shown_notes(data_dir, examples, count):
    """The note of each of the first ``count`` validation examples (fewer where the split is shorter)."""
    per_note = len(sounds.example_indices(examples, nsynth.EXAMPLES_PER_NOTE) or range(nsynth.EXAMPLES_PER_NOTE))
    notes = nsynth.NSynth(data_dir).labels("valid", limit=-(-count // per_note))["note_str"]
    return [str(notes[index // per_note]) for index in range(min(count, len(notes) * per_note))]


def example_counts(data_dir, limit, examples):
    """Training and validation examples of one epoch on NSynth's train and valid splits.

    Returns
    -------
    dict
        ``{"train": n, "validation": n, "exact": bool}``; not exact where a
        TFRecord's notes are counted from its size.
    """
    per_note = len(sounds.example_indices(examples, nsynth.EXAMPLES_PER_NOTE) or range(nsynth.EXAMPLES_PER_NOTE))
    (train, train_exact), (validation, validation_exact) = (nsynth.count_notes(data_dir, split, limit)
                                                            for split in ("train", "valid"))
    return {"train": train * per_note, "validation": validation * per_note, "exact": train_exact and validation_exact}


class NSynthObjective(Objective):
    """An objective on NSynth notes: its data read, its examples counted and labelled for the projector.

    Its config has the ``examples`` option (:data:`EXAMPLES_OPTION`) and,
    unless it reads its data another way (its own :meth:`datasets`), the
    ``cache_dir`` option (:data:`CACHE_OPTION`).
    """

    data = "NSynth"
    dataset = nsynth.NSynth

    def datasets(self, data_dir, *, batch_size, seed, limit=None):
        """Its ``model.py``'s batched tf.data of the notes, with the config's ``examples`` and ``cache_dir``."""
        return self.implementation.datasets(data_dir, batch_size=batch_size, seed=seed, limit=limit,
                                            examples=self.config.examples, cache_dir=self.config.cache_dir)

    def example_counts(self, data_dir, data, limit):
        return example_counts(data_dir, limit, self.config.examples)

    def projector_examples(self, data_dir, data, limit, count):
        """Validation examples labelled by their note's family, instrument, source, qualities and note."""
        return projector_examples(data_dir, limit, self.config.examples, count)
