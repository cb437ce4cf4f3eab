"""``den-add`` and ``den-mul``: pre-train VGGish by denoising NSynth log-mel examples.

The model corrupts a clean log-mel example, VGGish embeds the corrupted one,
and a decoder reconstructs the clean example from the 128-d embedding::

    clean (96, 64) ──corrupt──▶ VGGish ──▶ (128,) ──decoder──▶ (96, 64) ──MSE──▶ clean

Corruption
----------
``additive`` (``den-add``)
    Gaussian noise of mean 0 and standard deviation ``stddev`` (0.1) added
    to every bin.
``multiplicative`` (``den-mul``)
    Bernoulli noise: every bin is kept with probability ``keep_probability``
    (0.5) and set to 0 otherwise. Kept bins are not rescaled (plain masking,
    as the paper describes it); ``rescale=True`` divides them by
    ``keep_probability`` instead, as inverted dropout does.

Training draws fresh noise every batch (a ``keras.random.SeedGenerator``
seeded with ``seed``). Validation corrupts too, so that ``val_loss``
measures denoising as the training loss does, but with the fixed seed
``seed + 1``: every evaluation sees the same corruption, so validation
losses compare across epochs (all validation batches of one size share one
noise pattern, which no training batch draws).

Decoder
-------
The embedding is read as a sequence of length 1 with 128 channels and
widened by four ``Conv1DTranspose`` layers (stride 1, no padding) to the 96
frames of an example with its 64 mel bands as channels::

    length   1 ─(128 filters, kernel 10)─▶ 10 ─(64, 21)─▶ 30 ─(64, 31)─▶ 60 ─(64, 37)─▶ 96

with LeakyReLU (negative slopes 0.1, 0.25, 0.5) after the first three
layers and none after the last.

This package's ``__init__`` declares the objectives (options and classes that
``airtf-pretrain`` lists) without importing Keras; the model, the data
pipeline and the TensorBoard views are in :mod:`airtf.pretrain.objectives.denoising.model`,
imported when the objective is used.
"""

import dataclasses

from airtf.pretrain.objectives.base import Config, option, register
from airtf.pretrain.objectives.notes import CACHE_OPTION, EXAMPLES_OPTION, NSynthObjective
from airtf.support import numbers

NOISES = ("additive", "multiplicative")
"""The ``noise`` of :func:`.model.build`: ``den-add`` is additive, ``den-mul`` multiplicative."""
STDDEV = 0.1
KEEP_PROBABILITY = 0.5


@dataclasses.dataclass(frozen=True)
class DenAddConfig(Config):
    """Options of ``den-add``."""

    stddev: float = option(STDDEV, "noise standard deviation", numbers.positive(float), metavar="X")
    examples: str = EXAMPLES_OPTION
    cache_dir: str = CACHE_OPTION


@dataclasses.dataclass(frozen=True)
class DenMulConfig(Config):
    """Options of ``den-mul``."""

    keep_probability: float = option(KEEP_PROBABILITY, "probability of keeping a bin",
                                     numbers.number(float, above=0, maximum=1), metavar="P")
    rescale: bool = option(False, "divide kept bins by the keep probability")
    examples: str = EXAMPLES_OPTION
    cache_dir: str = CACHE_OPTION


class Denoising(NSynthObjective):
    """Denoising of NSynth log-mel examples; :class:`DenAdd` and :class:`DenMul` choose the noise."""

    noise = ""

    def build(self, backbone, data, seed):
        options = {name: value for name, value in self.config.to_json().items()
                   if name in ("stddev", "keep_probability", "rescale")}
        return self.implementation.build(backbone, noise=self.noise, seed=seed, **options)

    def tensorboard_callbacks(self, run, model, data):
        return self.implementation.tensorboard_callbacks(run, model, data)


@register
class DenAdd(Denoising):
    """``den-add``: reconstruct NSynth log-mel from a copy with additive Gaussian noise."""

    name = "den-add"
    noise = "additive"
    Config = DenAddConfig


@register
class DenMul(Denoising):
    """``den-mul``: reconstruct NSynth log-mel from a copy with bins masked at random."""

    name = "den-mul"
    noise = "multiplicative"
    Config = DenMulConfig
