"""The VGGish model family, after keras-hub's layout.

``backbone``
    :func:`build_backbone`: log-mel examples (batch, 96, 64) to embeddings
    (batch, 128), in the variants ``audioset-2017`` and ``audioset-2020``.
``audio_converter``
    The front end as Keras layers: :class:`LogMel` and :class:`LogMelExamples`
    (waveform to the backbone's input), :func:`waveform_to_examples`.
``postprocess``
    :class:`PCAQuantize` (the official PCA and 8-bit quantisation) and
    :class:`MinMaxNormalize`.
``presets``
    The official files and presets (package data), the models folder, and
    :func:`from_preset`: the one place where a weights source becomes a model.
``checkpoint``
    The official TF1 checkpoint reader.

The names below come from those modules, each imported when first used, so
that reading the presets or the models folder loads no Keras.

May import: airtf.params, airtf.errors, airtf.support, airtf.audio, airtf.runs.layout (the run directory's
file names: a run directory is a weights source).
"""

import importlib

from airtf.params import DEFAULT_VARIANT, VGGISH_VARIANTS

_EXPORTS = {
    "LogMel": "audio_converter", "LogMelExamples": "audio_converter", "example_time_points": "audio_converter",
    "waveform_to_examples": "audio_converter", "VARIANTS": "backbone", "build_backbone": "backbone",
    "MinMaxNormalize": "postprocess", "PCAQuantize": "postprocess", "load_pca_params": "postprocess",
    "WeightsSource": "presets", "from_preset": "presets",
}
"""What the package offers, and the module each comes from (imported on first use: presets needs no Keras)."""

__all__ = ["DEFAULT_VARIANT", "VGGISH_VARIANTS", *_EXPORTS]


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
