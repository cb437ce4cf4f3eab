"""The musicnn model family (Pons & Serra, 2019), beside VGGish, after keras-hub's layout.

Keras 3 ports of the music taggers that musicnn 0.1.0 publishes, with their
released weights: the only genuinely pretrained music representation
reachable offline here.

``backbone``
    :func:`build_musicnn` and :func:`build_vgg`: log-mel patches
    (batch, 187, 96) to every layer musicnn's extractor exposes and the
    50 tag probabilities.
``audio_converter``
    The front end as musicnn computes it, in float32: :class:`MusicnnPatches`,
    :func:`patches_of_waveform`.
``checkpoint``
    musicnn's TF1 checkpoints read by variable name.
``presets``
    The published wheel and its checkpoints (fetched, verified), the presets
    ``musicnn-mtt``, ``musicnn-msd``, ``vgg-mtt``, ``vgg-msd``, and
    :func:`from_preset`, where a ``--weights`` value becomes a model.

Names below are imported from those modules when first used, so that reading
the presets loads no Keras.

May import: airtf.params, airtf.errors, airtf.support, airtf.audio.
"""

import importlib

_EXPORTS = {
    "MusicnnPatches": "audio_converter", "patches_of_waveform": "audio_converter",
    "ARCHITECTURES": "backbone", "LAYERS": "backbone", "build_musicnn": "backbone", "build_vgg": "backbone",
    "DEFAULT_LAYERS": "presets", "DEFAULT_PRESET": "presets", "MusicnnSource": "presets", "fetch": "presets",
    "from_preset": "presets", "names_musicnn": "presets",
}
"""What the package offers, and the module each comes from."""

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
