"""The whole recogniser, waveform to instruments, in Keras and as a SavedModel.

:class:`Pipeline` chains what an ``airtf-eval`` run directory holds::

    waveform (samples,) ─ the feature set's front end (pad=True) ─▶ log_mel (n, 96, 64) (musicnn: (n, 187, 96))
        ─ feature model ─▶ features (T, D) ─ AttentionClassifier.frame_outputs ─▶
        probabilities (C,), frame_probabilities (T, C), attention (T, C)

:func:`export` writes it as a SavedModel in the manner of YAMNet's: the
``serving_default`` signature takes a mono 16 kHz float32 ``waveform`` of any
length (shape ``[None]``; audio shorter than one 0.96 s example is zero-padded
to one) and returns

``probabilities`` (C,)
    Each instrument's probability for the whole clip.
``frame_probabilities`` (T, C)
    Per-frame instrument activity: the classifier's per-frame probabilities
    (``cla``), before the attention pooling. The clip probability is their
    attention-weighted mean, so an instrument whose probability reaches a
    threshold has at least one frame that reaches it too.
``attention`` (T, C)
    Each instrument's attention weights over the frames (sum 1).
``timestamps`` (T,)
    Start of each frame in seconds: ``k * frame_hop_seconds`` (0.96 s for
    VGGish-based features, 0.01 s for log-mel frames).
``features`` (T, D)
    The frame features the classifier read (VGGish embeddings, after PCA or
    normalisation when the feature set has them).
``log_mel`` (n, 96, 64)
    The front end's examples: VGGish's log-mel examples, or musicnn's
    (n, 187, 96) patches for a classifier on musicnn features.

The ``metadata`` signature (no inputs) returns ``class_names`` (C,),
``class_names_file`` (the path of ``assets/class_names.csv``, a CSV with
``index,name`` rows), ``frame_hop_seconds``, ``sample_rate``, the shape
of the classifier's clip statistics (below) and the front end's framing
(``example_samples``, ``hop_samples``, ``edge_samples``: how a waveform is
cut into segments of whole examples for ``frame_features``)::

    model = tf.saved_model.load(EXPORT_DIR)
    outputs = model.signatures["serving_default"](waveform=tf.constant(samples))
    names = model.signatures["metadata"]()["class_names"]

The serving signature holds a whole waveform's activations at once. For
audio of any length in bounded memory, three more signatures split it up:
``frame_features`` (a waveform segment of whole examples -> its frame
features), ``group_moments`` and ``chunk_scores`` (the classifier over
chunks of a clip's frames, its GroupNormalization statistics gathered first;
see :meth:`airtf.classify.attention.AttentionClassifier.group_moments`).
:mod:`airtf.serve.predict` drives them.

A SavedModel is a program: loading one runs the TensorFlow operations it
holds. Load only exports you trust.

:func:`load` opens an export directory or a run directory behind the same
interface, for ``airtf-predict``.
"""

import csv
import functools
import json
import tempfile
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
from keras import ops

from airtf import params
from airtf.audio.frames import pad_to, with_hop
from airtf.classify import attention
from airtf.errors import AirtfError, first_line
from airtf.features import feature_sets
from airtf.runs.layout import CLASSES_NAME, CONFIG_NAME, FEATURE_SPEC_NAME, MODEL_NAME
from airtf.runs.run_directory import RunError
from airtf.serve.signatures import OUTPUTS, SERVING_SIGNATURE
from airtf.support import locks
from airtf.support.files import atomic_directory, check_writable, write_json
from airtf.vggish.audio_converter import LogMelExamples

RUN_FILES = (MODEL_NAME, FEATURE_SPEC_NAME, CLASSES_NAME)
"""What :meth:`Pipeline.from_run` reads from a run directory."""
CLASS_NAMES_ASSET = "class_names.csv"
EXPORT_MARKER = "airtf-export.json"
"""Written into every export: what made it; only a folder holding it is replaced by ``overwrite``."""
METADATA_SIGNATURE = "metadata"
METADATA_OUTPUTS = ("class_names", "class_names_file", "frame_hop_seconds", "sample_rate", "statistics_shape",
                    "statistics_layers")
FRAMING = ("example_samples", "hop_samples", "edge_samples")
"""The front end's framing, also in the metadata (an export without it is VGGish's)."""
STREAMING_OUTPUTS = {"frame_features": ("features",), "group_moments": ("mean", "variance"),
                     "chunk_scores": ("attention_weights", "frame_probabilities")}
"""The signatures that run an export over audio of any length in bounded memory, and their outputs."""


COMMAND = "airtf-export"


class ExportError(AirtfError):
    """An export directory cannot be written or read as asked."""


class Pipeline:
    """Waveform to instrument probabilities, per-frame activity and features, in Keras.

    Parameters
    ----------
    feature_model : keras.Model
        Examples of clips (batch, n, *example_shape) to frame features
        (batch, T, D), each example giving its own T / n frames (as every
        feature set of :mod:`airtf.features.feature_sets` does). The pipeline feeds it
        the n examples of a waveform as n clips of one example and
        concatenates their frames: the same features, one batched call.
    classifier : airtf.classify.attention.AttentionClassifier
    class_names : list of str
        The C instrument names, in the classifier's order.
    front_end : keras.layers.Layer or None
        The feature set's front end (default VGGish's
        :class:`~airtf.vggish.LogMelExamples`); used with ``pad=True``.

    Attributes
    ----------
    frame_hop_seconds : float
        Seconds from one feature frame to the next: the front end's hop
        (0.96 s for VGGish) divided by the frames the feature model makes of
        one example.
    feature_size : int
        D, the size of a frame's features.
    example_samples, hop_samples, edge_samples : int
        The front end's framing (see :func:`airtf.audio.segments_for`).
    """

    def __init__(self, feature_model, classifier, class_names, front_end=None):
        front_end = front_end or LogMelExamples()
        self.examples = type(front_end).from_config({**front_end.get_config(), "pad": True})
        self.example_samples, self.hop_samples = front_end.example_samples, front_end.hop_samples
        self.edge_samples = front_end.edge_samples
        self.feature_model = feature_model
        self.classifier = classifier
        self.class_names = list(class_names)
        frames, self.feature_size = _frames_and_size_per_example(feature_model, front_end.example_shape)
        self.frame_hop_seconds = front_end.hop_samples / params.SAMPLE_RATE / frames

    @classmethod
    def from_run(cls, run_dir, weights=None, variant=None, pca_params=None, hop=None):
        """The pipeline of an ``airtf-eval`` run directory.

        Reads ``attention.keras`` (the classifier), ``feature_spec.json``
        (rebuilt with :meth:`airtf.features.feature_sets.FeatureSet.model`) and
        ``classes.json`` (the class names in order).

        Parameters
        ----------
        run_dir : str or Path
        weights, variant, pca_params
            Replace the feature set's VGGish and PCA file (see
            :meth:`airtf.features.feature_sets.FeatureSet.model`).
        hop : float or None
            Seconds from one example to the next, instead of the feature
            set's own (finer time ranges; the classifier sees more frames).

        Raises
        ------
        RunError
            When a file is missing or unreadable.
        FeatureError
            When the feature set cannot be rebuilt (its weights are gone).
        """
        run_dir = Path(run_dir)
        _check_run_files(run_dir)
        spec = _read_json(run_dir / FEATURE_SPEC_NAME)
        class_names = _read_json(run_dir / CLASSES_NAME)
        classifier_path = run_dir / MODEL_NAME
        try:
            classifier = keras.saving.load_model(classifier_path, compile=False)
        except Exception as error:  # Keras raises many kinds for a damaged archive
            raise RunError(f"{classifier_path}: cannot load the classifier ({first_line(error)}); "
                           "run airtf-eval again to rewrite it") from None
        if not isinstance(classifier, attention.AttentionClassifier):
            raise RunError(f"{classifier_path}: holds a {type(classifier).__name__}, not an AttentionClassifier; "
                           "pass a run directory written by airtf-eval")
        if len(class_names) != classifier.num_classes:
            raise RunError(f"{run_dir / CLASSES_NAME}: {len(class_names)} class names for a classifier of "
                           f"{classifier.num_classes} classes; the run directory mixes two runs")
        feature_set = feature_sets.from_spec(spec)
        feature_model = feature_set.model(weights=weights, variant=variant, pca_params=pca_params)
        return cls(feature_model, classifier, class_names, with_hop(feature_set.front_end(), hop))

    def _mirrored(self, waveform):
        """The whole waveform with the front end's edges mirrored (a segment of :meth:`frame_features` has them)."""
        if not self.edge_samples:
            return waveform
        waveform = pad_to(waveform, self.edge_samples + 1)  # reflection needs more samples than it mirrors
        return ops.pad(waveform, [[self.edge_samples, self.edge_samples]], mode="reflect")

    def _log_mel_and_features(self, waveform):
        log_mel = self.examples(waveform)
        per_example = self.feature_model(ops.expand_dims(log_mel, 1), training=False)
        return log_mel, ops.reshape(ops.cast(per_example, "float32"), (-1, self.feature_size))

    def outputs(self, waveform):
        """The outputs of one waveform as backend tensors (usable inside a ``tf.function``).

        Parameters
        ----------
        waveform : tensor or array, float32 (samples,)
            Mono, 16 kHz, any length.

        Returns
        -------
        dict
            The tensors named in :data:`OUTPUTS`.
        """
        log_mel, features = self._log_mel_and_features(self._mirrored(waveform))
        frames = self.classifier.frame_outputs(ops.expand_dims(features, 0), training=False)
        timestamps = ops.arange(ops.shape(features)[0], dtype="float32") * self.frame_hop_seconds
        return {
            "probabilities": frames["probabilities"][0],
            "frame_probabilities": frames["frame_probabilities"][0],
            "attention": frames["attention"][0],
            "timestamps": timestamps,
            "features": features,
            "log_mel": log_mel,
        }

    def __call__(self, waveform):
        """:meth:`outputs` of a numpy waveform, as numpy arrays."""
        outputs = self.outputs(np.asarray(waveform, dtype=np.float32))
        return {name: ops.convert_to_numpy(value) for name, value in outputs.items()}

    # The streaming interface, which ExportedModel shares (see airtf.serve.predict.classify)

    @property
    def statistics_shape(self):
        """Shape of the classifier's clip statistics (see :attr:`AttentionClassifier.statistics_shape`)."""
        return self.classifier.statistics_shape

    @property
    def statistics_layers(self):
        """Layers whose statistics come from the clip: all with GroupNormalization, none with BatchNormalization."""
        return self.classifier.num_layers if self.classifier.norm == "group" else 0

    def segment_features(self, segment):
        """Frame features (t, D) of a waveform segment of whole examples (its edges mirrored), as a backend tensor."""
        return self._log_mel_and_features(segment)[1]

    def frame_features(self, segment):
        """:meth:`segment_features`, numpy in and out."""
        return ops.convert_to_numpy(self.segment_features(np.asarray(segment, np.float32)))

    def group_moments(self, features, statistics, layer):
        """:meth:`AttentionClassifier.group_moments` of a chunk of frames, numpy in and out."""
        return tuple(ops.convert_to_numpy(value) for value in self.classifier.group_moments(
            np.asarray(features, np.float32), np.asarray(statistics, np.float32), layer))

    def chunk_scores(self, features, statistics):
        """:meth:`AttentionClassifier.chunk_scores` of a chunk of frames, numpy in and out."""
        return tuple(ops.convert_to_numpy(value) for value in self.classifier.chunk_scores(
            np.asarray(features, np.float32), np.asarray(statistics, np.float32)))


def _frames_and_size_per_example(feature_model, example_shape):
    """Frames the feature model makes of one example (1 for VGGish, 96 for log-mel), and their size D."""
    probe = np.zeros((1, 1, *example_shape), np.float32)
    _, frames, size = ops.shape(feature_model(probe, training=False))
    return int(frames), int(size)


def _check_run_files(run_dir):
    """Raise RunError naming every file of :data:`RUN_FILES` that ``run_dir`` lacks."""
    missing = [name for name in RUN_FILES if not (run_dir / name).is_file()]
    config = _read_json(run_dir / CONFIG_NAME) if (run_dir / CONFIG_NAME).is_file() else {}
    if missing and "classifier" in (config.get("model") or {}):
        raise RunError(f"{run_dir}: a random-forest run keeps no model to export (scikit-learn saves forests by "
                       "pickle, which runs code when read); export an airtf-eval run of the attention classifier")
    if missing:
        problem = "not found" if not run_dir.exists() else f"has no {', '.join(missing)}"
        raise RunError(f"{run_dir}: {problem}; pass a run directory written by a finished airtf-eval")


def _read_json(path):
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunError(f"{path}: unreadable ({first_line(error)}); run airtf-eval again to rewrite it") from None


class ExportInfo(NamedTuple):
    """What :func:`export` wrote: where, the class names and the serving outputs' shapes."""

    path: Path
    class_names: list
    output_shapes: dict


def check_target(out, run_dir, overwrite=False):
    """Refuse an export folder whose replacement would lose anything that is not an earlier export.

    ``out`` may be new, an empty folder, or (with ``overwrite``) a folder
    holding :data:`EXPORT_MARKER`. It may not be the current folder, the run
    directory, or a folder that holds either.

    Raises
    ------
    ExportError
        Naming ``out`` and what to do instead; nothing has been touched.
    """
    out = Path(out)
    target = out.resolve()
    for what, folder in (("the current folder", Path.cwd()), ("the run directory", Path(run_dir))):
        folder = folder.resolve()
        if target == folder or target in folder.parents:
            relation = "is" if target == folder else "holds"
            raise ExportError(f"{out}: {relation} {what}, which an export would replace; choose a new folder "
                              "for --out")
    if not out.exists():
        return
    if not out.is_dir():
        raise ExportError(f"{out}: is a file, not a directory; choose another --out")
    if not any(out.iterdir()):
        return
    if not overwrite:
        raise ExportError(f"{out}: already exists; pass --overwrite to replace it, or choose another --out")
    if not (out / EXPORT_MARKER).is_file():
        raise ExportError(f"{out}: holds files that airtf-export did not write (no {EXPORT_MARKER}), so "
                          "--overwrite does not replace it; choose another --out")


def export(run_dir, out, overwrite=False, weights=None, variant=None, pca_params=None, hop=None):
    """Export the pipeline of a run directory as a SavedModel (see the module docstring).

    The SavedModel is written into a temporary directory beside ``out`` and
    renamed into place, so ``out`` is never half-written.

    Parameters
    ----------
    run_dir : str or Path
        A run directory written by ``airtf-eval``.
    out : str or Path
        The export directory to create.
    overwrite : bool
        Replace ``out`` if it holds an earlier export (see :func:`check_target`).
    weights, variant, pca_params, hop
        Replace the feature set's VGGish, PCA file and hop (see :meth:`Pipeline.from_run`).

    Returns
    -------
    ExportInfo

    Raises
    ------
    ExportError
        When ``out`` may not be written (see :func:`check_target`).
    RunError
        When ``run_dir`` lacks a file (see :meth:`Pipeline.from_run`).
    airtf.support.locks.FolderInUseError
        Another process is writing ``out``.
    """
    out = Path(out)
    with locks.holding(out, COMMAND, beside=True):
        return _export(run_dir, out, overwrite, weights, variant, pca_params, hop)


def _export(run_dir, out, overwrite, weights, variant, pca_params, hop):
    """:func:`export`, holding the lock of ``out``."""
    check_target(out, run_dir, overwrite)
    check_writable(out.parent)
    pipeline = Pipeline.from_run(run_dir, weights=weights, variant=variant, pca_params=pca_params, hop=hop)
    with atomic_directory(out) as temporary:
        output_shapes = write_saved_model(pipeline, temporary)
        write_json(temporary / EXPORT_MARKER, {
            "airtf": params.VERSION, "run_dir": str(Path(run_dir).resolve()), "class_names": pipeline.class_names,
            "weights": weights, "variant": variant, "pca_params": None if pca_params is None else str(pca_params),
            "hop": hop})
    return ExportInfo(out, pipeline.class_names, output_shapes)


def write_saved_model(pipeline, path):
    """Write ``pipeline`` as a SavedModel at ``path`` (not atomically; see :func:`export`).

    The SavedModel is saved from a ``tf.Module`` rather than through
    ``keras.export.ExportArchive``, which has no way to attach the class-name
    asset (a function that returns an asset's path bakes in the path it had
    when exported).

    Returns
    -------
    dict
        Serving output name -> shape, None for a size that depends on the
        waveform's length.
    """
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as scratch:
        class_names_csv = Path(scratch) / CLASS_NAMES_ASSET
        _write_class_names_csv(class_names_csv, pipeline.class_names)
        module = _serving_module(pipeline, class_names_csv)
        serving = module.serve.get_concrete_function()
        signatures = {SERVING_SIGNATURE: serving, METADATA_SIGNATURE: module.metadata,
                      **{name: getattr(module, name) for name in STREAMING_OUTPUTS}}
        tf.saved_model.save(module, str(path), signatures=signatures)
    return {name: tuple(serving.structured_outputs[name].shape) for name in OUTPUTS}


def _write_class_names_csv(path, class_names):
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["index", "name"])
        writer.writerows(enumerate(class_names))


def _serving_module(pipeline, class_names_csv):
    """A tf.Module holding the pipeline's models, the class-name asset and the signatures' functions."""
    import tensorflow as tf

    module = tf.Module(name="airtf_instrument_recognizer")
    module.feature_model = pipeline.feature_model
    module.classifier = pipeline.classifier
    module.class_names_file = tf.saved_model.Asset(str(class_names_csv))
    waveform = tf.TensorSpec([None], tf.float32, name="waveform")
    module.serve = tf.function(pipeline.outputs, input_signature=[waveform])
    constants = {"class_names": tf.constant(pipeline.class_names),
                 "frame_hop_seconds": tf.constant(pipeline.frame_hop_seconds, tf.float32),
                 "sample_rate": tf.constant(params.SAMPLE_RATE, tf.int32),
                 "statistics_shape": tf.constant(pipeline.statistics_shape, tf.int32),
                 "statistics_layers": tf.constant(pipeline.statistics_layers, tf.int32),
                 **{name: tf.constant(getattr(pipeline, name), tf.int32) for name in FRAMING}}

    @tf.function(input_signature=[])
    def metadata():
        return {**constants, "class_names_file": module.class_names_file.asset_path}

    module.metadata = metadata
    _add_streaming_functions(module, pipeline, waveform)
    return module


def _add_streaming_functions(module, pipeline, waveform):
    """The functions of :data:`STREAMING_OUTPUTS`, as tf.functions of ``module``."""
    import tensorflow as tf

    classifier = pipeline.classifier
    frames = tf.TensorSpec([None, pipeline.feature_size], tf.float32, name="features")
    statistics = tf.TensorSpec(pipeline.statistics_shape, tf.float32, name="statistics")
    layer = tf.TensorSpec([], tf.int32, name="layer")

    @tf.function(input_signature=[waveform])
    def frame_features(waveform):
        return {"features": pipeline.segment_features(waveform)}

    @tf.function(input_signature=[frames, statistics, layer])
    def group_moments(features, statistics, layer):
        if not pipeline.statistics_layers:  # BatchNormalization: nothing to gather
            zeros = tf.zeros(pipeline.statistics_shape[1:2])
            return {"mean": zeros, "variance": zeros}
        branches = [functools.partial(classifier.group_moments, features, statistics, index)
                    for index in range(pipeline.statistics_layers)]
        mean, variance = tf.switch_case(layer, branches)
        return {"mean": mean, "variance": variance}

    @tf.function(input_signature=[frames, statistics])
    def chunk_scores(features, statistics):
        weights, probabilities = classifier.chunk_scores(features, statistics)
        return {"attention_weights": weights, "frame_probabilities": probabilities}

    module.frame_features = frame_features
    module.group_moments = group_moments
    module.chunk_scores = chunk_scores


class ExportedModel:
    """A SavedModel written by :func:`export`, behind :class:`Pipeline`'s interface.

    Loading a SavedModel runs the TensorFlow operations it holds: load only
    exports you trust.

    Parameters
    ----------
    path : str or Path
        The export directory.

    Attributes
    ----------
    class_names : list of str
    frame_hop_seconds : float
    statistics_shape : tuple of int
    statistics_layers : int
    """

    def __init__(self, path):
        import tensorflow as tf

        path = Path(path)
        try:
            saved = tf.saved_model.load(str(path))
        except Exception as error:  # TensorFlow raises many kinds for a damaged SavedModel
            raise ExportError(f"{path}: cannot load the SavedModel ({first_line(error)}); "
                              "export it again with airtf-export") from None
        _check_signatures(path, saved.signatures)
        self._saved = saved
        self._signatures = saved.signatures
        metadata = saved.signatures[METADATA_SIGNATURE]()
        self.class_names = [name.decode() for name in metadata["class_names"].numpy()]
        self.frame_hop_seconds = float(metadata["frame_hop_seconds"].numpy())
        self.statistics_shape = tuple(int(size) for size in metadata["statistics_shape"].numpy())
        self.statistics_layers = int(metadata["statistics_layers"].numpy())
        framing = LogMelExamples()  # exports written before the framing was stated are VGGish's
        for name in FRAMING:
            setattr(self, name, int(metadata[name].numpy()) if name in metadata else getattr(framing, name))

    def __call__(self, waveform):
        """The serving outputs of a numpy waveform (samples,), as numpy arrays."""
        outputs = self._signatures[SERVING_SIGNATURE](waveform=np.asarray(waveform, dtype=np.float32))
        return {name: outputs[name].numpy() for name in OUTPUTS}

    def frame_features(self, segment):
        """Frame features (t, D) of a waveform segment of whole examples."""
        return self._signatures["frame_features"](waveform=np.asarray(segment, np.float32))["features"].numpy()

    def group_moments(self, features, statistics, layer):
        """Per-group mean and variance of a chunk of frames for layer ``layer`` (see :class:`Pipeline`)."""
        outputs = self._signatures["group_moments"](features=np.asarray(features, np.float32),
                                                    statistics=np.asarray(statistics, np.float32),
                                                    layer=np.int32(layer))
        return outputs["mean"].numpy(), outputs["variance"].numpy()

    def chunk_scores(self, features, statistics):
        """Attention weights and per-frame probabilities of a chunk of frames (see :class:`Pipeline`)."""
        outputs = self._signatures["chunk_scores"](features=np.asarray(features, np.float32),
                                                   statistics=np.asarray(statistics, np.float32))
        return outputs["attention_weights"].numpy(), outputs["frame_probabilities"].numpy()


def _check_signatures(path, signatures):
    """Raise ExportError unless the SavedModel has every signature and output that airtf-export writes."""
    expected = {SERVING_SIGNATURE: OUTPUTS, METADATA_SIGNATURE: METADATA_OUTPUTS, **STREAMING_OUTPUTS}
    for name, outputs in expected.items():
        if name not in signatures:
            raise ExportError(f"{path}: a SavedModel without the {name} signature; pass a directory written by "
                              "this version of airtf-export (export it again)")
        missing = sorted(set(outputs) - set(signatures[name].structured_outputs))
        if missing:
            raise ExportError(f"{path}: the {name} signature lacks the output(s) {', '.join(missing)}; pass a "
                              "directory written by this version of airtf-export (export it again)")


def load(path, weights=None, variant=None, pca_params=None, hop=None):
    """The recogniser in an export directory, a LiteRT or ONNX file, or an ``airtf-eval`` run directory.

    Parameters
    ----------
    path : str or Path
    weights, variant, pca_params, hop
        For a run directory: replace its feature set's VGGish, PCA file and
        hop (see :meth:`Pipeline.from_run`). An export holds its own.

    Returns
    -------
    ExportedModel, Pipeline or airtf.serve.runtimes.PortableRecognizer
        Each is called on a numpy waveform (mono, 16 kHz, any length) and
        returns the outputs of :data:`OUTPUTS` as numpy arrays, and has the
        streaming methods that :func:`airtf.serve.predict.classify` drives; both
        have ``class_names`` and ``frame_hop_seconds``.

    Raises
    ------
    ExportError, RunError
        When ``path`` is neither, or a file in it is damaged.
    """
    from airtf.serve import runtimes

    path = Path(path)
    replaced = {"--weights": weights, "--variant": variant, "--pca-params": pca_params, "--hop": hop}
    if runtimes.format_of(path) is not None:
        return runtimes.load(path, replaced)
    if (path / "saved_model.pb").is_file():
        refused = runtimes.replacements_refused(path, replaced)
        if refused:
            raise ExportError(refused)
        return ExportedModel(path)
    if (path / MODEL_NAME).is_file():
        return Pipeline.from_run(path, weights=weights, variant=variant, pca_params=pca_params, hop=hop)
    problem = "not found" if not path.exists() else "neither an export directory nor a run directory"
    raise ExportError(f"{path}: {problem}; pass a directory written by airtf-export, "
                      "or a run directory written by a finished airtf-eval")
