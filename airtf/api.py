"""The public API: embeddings of audio, and a recogniser to predict instruments, from Python.

Both keep what they load: the model of the last weights asked for stays
loaded for the next call (so a loop over files loads it once), and
:func:`load_recognizer` returns an object to call again and again.

May import: airtf.params, airtf.errors, airtf.support, airtf.audio, airtf.vggish, airtf.musicnn, airtf.features,
airtf.serve.
"""

import functools

from airtf import params

OUTPUTS = params.EXTRACT_OUTPUTS


@functools.lru_cache(maxsize=1)
def _extractor(output, weights, variant, pca_params, layer, hop, pad, resampler):
    """The Extractor of these settings, kept for the next call (only the last one: memory stays bounded)."""
    from airtf.features import extract

    return extract.make_extractor(output, weights, variant, pca_params, layer, hop, pad=pad, resampler=resampler)


def embed(audio_or_path, sample_rate=None, output="embedding", weights="official", variant=None, pca_params=None,
          pad=False, resampler="resampy", layer=None, hop=None):
    """VGGish (or musicnn) features of audio, with their time points: what ``airtf-extract`` writes for a file.

    Parameters
    ----------
    audio_or_path : str, os.PathLike or array_like
        An audio file (any format and rate airtf reads), or samples
        (frames,), (frames, channels) or (channels, frames): floats in
        [-1, 1], or int8/int16/int32 scaled as the official VGGish scales
        int16 (x / 32768); see :func:`airtf.audio.waveform`.
    sample_rate : int or None
        The rate of the samples (required with samples; a file has its own).
    output : {"logmel", "embedding", "pca"}
        Log-mel examples (n, 96, 64) float32, VGGish embeddings (n, 128)
        float32, or the official PCA features (n, 128) uint8; for a musicnn
        model, its log-mel patches (n, 187, 96) or its ``layer`` per patch.
    weights : str or os.PathLike
        What ``--weights`` takes: "official" (default), a preset name,
        "random", a weights file, a checkpoint or a pre-training run
        directory; or a musicnn model ("musicnn-mtt", ...; see :mod:`airtf.musicnn`).
    variant : str or None
        The VGGish variant (default: the weights' own, else audioset-2017).
    pca_params : str or os.PathLike or None
        vggish_pca_params.npz for "pca" (default: the models folder's).
    pad : bool
        Zero-pad audio shorter than one 0.96 s example to one example.
    resampler : {"resampy", "soxr"}
        "resampy" gives the official numbers.
    layer : str or None
        A musicnn model's layer (default max_pool for musicnn, pool5 for vgg).
    hop : float or None
        Seconds from one example to the next (default the model's: 0.96 for
        VGGish); shorter ones overlap. A multiple of 10 ms (VGGish) or 16 ms (musicnn).

    Returns
    -------
    features : np.ndarray
    time_points : list of float
        Start of each example in seconds (0.0, 0.96, ...; musicnn's 3 s patches: 0.0, 2.99, ...;
        with ``hop``, k * hop).

    Raises
    ------
    AirtfError
        Unreadable audio, missing weights; the message names the file and the fix.
    airtf.audio.WaveformError
        Samples of a dtype, shape or rate airtf cannot read (an AirtfError).
    """
    from airtf.vggish import example_time_points

    if output not in OUTPUTS:
        raise ValueError(f"unknown output {output!r}; choose one of {', '.join(OUTPUTS)}")
    source = _source(audio_or_path, sample_rate)
    pca_key = None if pca_params is None else str(pca_params)
    extractor = _extractor(output, str(weights), variant, pca_key, layer, hop, pad, resampler)
    [features] = extractor.arrays([source])
    return features, example_time_points(len(features), extractor.hop_seconds)


def _source(audio_or_path, sample_rate):
    """A file's path as it is, or samples checked by :func:`airtf.audio.waveform`: what every function here reads."""
    from airtf import audio

    if isinstance(audio_or_path, (str, bytes)) or hasattr(audio_or_path, "__fspath__"):
        if sample_rate is not None:
            raise audio.WaveformError(f"{audio_or_path}: sample_rate goes with samples; a file has its own rate: "
                                      "leave it out")
        return audio_or_path
    if sample_rate is None:
        raise audio.WaveformError("<waveform>: samples need their sample_rate (e.g. 44100)")
    return audio.waveform(audio_or_path, sample_rate)


class Recognizer:
    """An export or an airtf-eval run directory, ready to predict instruments (see :func:`load_recognizer`).

    Attributes
    ----------
    model : airtf.serve.export.ExportedModel or airtf.serve.export.Pipeline
    class_names : list of str
    """

    def __init__(self, model):
        self.model = model
        self.class_names = model.class_names

    def predict(self, audio_or_path, sample_rate=None, threshold=None):
        """The instruments present and the time ranges where each plays.

        Parameters
        ----------
        audio_or_path : str, os.PathLike or array_like
            An audio file, or samples as :func:`embed` takes them.
        sample_rate : int or None
            The rate of the samples.
        threshold : float or None
            Probability at which an instrument is present, and a frame
            active (default 0.5).

        Returns
        -------
        airtf.serve.predict.Prediction
            ``instruments`` (name -> probability of those present),
            ``active`` (name -> [[start, end], ...] in seconds),
            ``probabilities`` (of every instrument), ``duration`` and
            ``threshold``.
        """
        from airtf.serve import predict

        threshold = predict.THRESHOLD if threshold is None else threshold
        return predict.predict_file(self.model, _source(audio_or_path, sample_rate), threshold)

    def outputs(self, audio_or_path, sample_rate=None):
        """The classifier's outputs: ``probabilities`` (C,) and ``frame_probabilities`` (T, C), numpy."""
        from airtf.serve import predict

        return predict.stream_outputs(self.model, _source(audio_or_path, sample_rate))[0]


def load_recognizer(path, weights=None, variant=None, pca_params=None):
    """A :class:`Recognizer` for an ``airtf-export`` folder or an ``airtf-eval`` run directory.

    A SavedModel is a program: loading one runs the TensorFlow operations it
    holds. Load only exports you trust.

    Parameters
    ----------
    path : str or os.PathLike
    weights, variant, pca_params
        For a run directory: replace its feature set's VGGish and PCA file
        (see :meth:`airtf.features.feature_sets.FeatureSet.model`).
    """
    from airtf.serve import export

    return Recognizer(export.load(path, weights=weights, variant=variant, pca_params=pca_params))

