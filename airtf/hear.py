"""The HEAR 2021 API (Turian et al.) for every airtf model: VGGish, musicnn, a trained recogniser's frames.

HEAR's benchmark loads a module with three functions::

    model = airtf.hear.load_model("")                       # the official VGGish (audioset-2017)
    embeddings, timestamps = airtf.hear.get_timestamp_embeddings(audio, model)
    scene = airtf.hear.get_scene_embeddings(audio, model)

``audio`` is a batch of sounds of equal length, (n_sounds, n_samples)
float32 in [-1, 1] at ``model.sample_rate`` (16 kHz). Timestamp embeddings
are (n_sounds, n_timestamps, ``model.timestamp_embedding_size``) with the
centre of each example in milliseconds; a scene embedding is their mean
over time, (n_sounds, ``model.scene_embedding_size``). Both come back as
TensorFlow tensors, float32. A sound shorter than one example is
zero-padded to one, so every sound has an embedding.

``model_file_path`` is anything ``--weights`` takes (``""`` is the
official VGGish): a preset (``audioset-2020``, ``musicnn-mtt`` ...),
``random``, a weights file or pre-training run, a musicnn checkpoint
folder, or an airtf-eval run directory (its classifier's normalised frame
features). ``layer`` and ``hop`` are those of :func:`airtf.embed`.

May import: airtf.params, airtf.audio, airtf.features, airtf.runs.layout.
"""

from airtf import params


class HearModel:
    """What :func:`load_model` returns: an extractor of vectors per example, and HEAR's attributes."""

    sample_rate = params.SAMPLE_RATE

    def __init__(self, extractor):
        if len(extractor.row_shape) != 1:
            raise ValueError(f"HEAR needs a vector per example; this model gives {extractor.row_shape}: choose "
                             "another --layer")
        self.extractor = extractor
        self.scene_embedding_size = self.timestamp_embedding_size = int(extractor.row_shape[0])

    def timestamps_ms(self, count):
        """The centre of each of ``count`` examples in the sound, in milliseconds."""
        import numpy as np

        front_end = self.extractor.front_end
        starts = np.arange(count) * front_end.hop_samples - front_end.edge_samples
        return (starts + front_end.example_samples / 2) / self.sample_rate * 1000.0


def load_model(model_file_path="", weights=None, layer=None, hop=None):
    """The model ``model_file_path`` names (see the module docstring); ``weights`` is a synonym for it."""
    from pathlib import Path

    from airtf.features import extract
    from airtf.runs.layout import FEATURE_SPEC_NAME

    source = weights or model_file_path or "official"
    output = "normalised" if (Path(str(source)) / FEATURE_SPEC_NAME).is_file() else "embedding"
    return HearModel(extract.make_extractor(output, str(source), layer=layer, hop=hop, pad=True))


def get_timestamp_embeddings(audio, model):
    """(embeddings (n_sounds, n_timestamps, D), timestamps (n_sounds, n_timestamps) in ms), TensorFlow float32."""
    import numpy as np
    import tensorflow as tf

    from airtf import audio as audio_io

    sounds = np.asarray(audio, np.float32)
    if sounds.ndim != 2:
        raise ValueError(f"audio must be (n_sounds, n_samples), got shape {sounds.shape}")
    waveforms = [audio_io.waveform(sound, model.sample_rate, name=f"sound {index}")
                 for index, sound in enumerate(sounds)]
    embeddings = np.stack(model.extractor.arrays(waveforms)) if len(sounds) else \
        np.zeros((0, 0, model.timestamp_embedding_size), np.float32)
    timestamps = np.tile(model.timestamps_ms(embeddings.shape[1]), (len(sounds), 1))
    return tf.constant(embeddings, tf.float32), tf.constant(timestamps, tf.float32)


def get_scene_embeddings(audio, model):
    """(n_sounds, D): each sound's timestamp embeddings averaged over time, TensorFlow float32."""
    import tensorflow as tf

    embeddings, _ = get_timestamp_embeddings(audio, model)
    return tf.reduce_mean(embeddings, axis=1)
