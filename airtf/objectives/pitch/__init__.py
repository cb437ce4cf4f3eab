"""``pitch``: pre-train VGGish to name the pitch class (C, C#, ..., B) of an NSynth note.

Not one of the paper's objectives: it is the worked example of README's
"Adding an objective", and a cheap supervised baseline. The whole objective
is this package: ``__init__`` declares its config (the options
``airtf-pretrain`` offers) and the labels of its projector view without
importing Keras; :mod:`airtf.objectives.pitch.model` holds its data (NSynth
notes labelled by ``pitch % 12``) and its model (VGGish, a hidden layer, 12
logits, cross-entropy), imported when the objective is used.
"""

import dataclasses

from airtf import numbers
from airtf.datasets import nsynth
from airtf.objectives import notes
from airtf.objectives.base import Config, Objective, option, register
from airtf.objectives.notes import CACHE_OPTION, EXAMPLES_OPTION

HIDDEN_UNITS = 256

@dataclasses.dataclass(frozen=True)
class PitchConfig(Config):
    """Options of ``pitch``."""

    hidden_units: int = option(HIDDEN_UNITS, "units of the hidden layer", numbers.positive(int), metavar="N")
    examples: str = EXAMPLES_OPTION
    cache_dir: str = CACHE_OPTION


@register
class Pitch(Objective):
    """``pitch``: name the pitch class of an NSynth note (the example of adding an objective)."""

    name = "pitch"
    data = "NSynth"
    dataset = nsynth.NSynth
    Config = PitchConfig

    def datasets(self, data_dir, *, batch_size, seed, limit=None):
        return self.implementation.datasets(data_dir, batch_size=batch_size, seed=seed, limit=limit,
                                            examples=self.config.examples, cache_dir=self.config.cache_dir)

    def build(self, backbone, data, seed):
        return self.implementation.PitchModel(backbone, self.config.hidden_units, name="pitch")

    def example_counts(self, data_dir, data, limit):
        return notes.example_counts(data_dir, limit, self.config.examples)

    def projector_examples(self, data_dir, data, limit, count):
        """Validation examples labelled by their note's instrument family."""
        return notes.projector_examples(data_dir, limit, self.config.examples, count)
