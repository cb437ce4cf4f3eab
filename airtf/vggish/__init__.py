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
"""

from airtf.params import DEFAULT_VARIANT, VGGISH_VARIANTS
from airtf.vggish.audio_converter import LogMel, LogMelExamples, example_time_points, waveform_to_examples
from airtf.vggish.backbone import VARIANTS, build_backbone
from airtf.vggish.postprocess import MinMaxNormalize, PCAQuantize, load_pca_params
from airtf.vggish.presets import WeightsSource, from_preset

__all__ = ["DEFAULT_VARIANT", "VGGISH_VARIANTS", "VARIANTS", "LogMel", "LogMelExamples", "MinMaxNormalize",
           "PCAQuantize", "WeightsSource", "build_backbone", "example_time_points", "from_preset",
           "load_pca_params", "waveform_to_examples"]
