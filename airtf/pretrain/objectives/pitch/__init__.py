"""``pitch``: pre-train VGGish to name the pitch class (C, C#, ..., B) of an NSynth note.

Not one of the paper's objectives: it is the worked example of README's
"Adding an objective", and a cheap supervised baseline. The whole objective
is this package: ``__init__`` declares its config (the options
``airtf-pretrain`` offers) and the labels of its projector view without
importing Keras; :mod:`airtf.pretrain.objectives.pitch.model` holds its data (NSynth
notes labelled by ``pitch % 12``) and its model (VGGish, a hidden layer, 12
logits, cross-entropy), imported when the objective is used.
"""

import dataclasses

from airtf.pretrain.objectives.base import Config, option, register
from airtf.pretrain.objectives.notes import CACHE_OPTION, EXAMPLES_OPTION, NSynthObjective
from airtf.support import numbers

HIDDEN_UNITS = 256


@dataclasses.dataclass(frozen=True)
class PitchConfig(Config):
    """Options of ``pitch``."""

    hidden_units: int = option(HIDDEN_UNITS, "units of the hidden layer", numbers.positive(int), metavar="N")
    examples: str = EXAMPLES_OPTION
    cache_dir: str = CACHE_OPTION


@register
class Pitch(NSynthObjective):
    """``pitch``: name the pitch class of an NSynth note (the example of adding an objective)."""

    name = "pitch"
    Config = PitchConfig

    def build(self, backbone, data, seed):
        return self.implementation.PitchModel(backbone, self.config.hidden_units, name="pitch")
