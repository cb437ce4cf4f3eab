"""The whole recogniser, waveform to instruments, in Keras and as a SavedModel.

:class:`Pipeline` chains what an ``airtf-eval`` run directory holds::

    waveform (samples,) ─ LogMelExamples(pad=True) ─▶ log_mel (n, 96, 64)
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
    The VGGish input examples.

The ``metadata`` signature (no inputs) returns ``class_names`` (C,),
``class_names_file`` (the path of ``assets/class_names.csv``, a CSV with
``index,name`` rows), ``frame_hop_seconds`` and ``sample_rate``::

    model = tf.saved_model.load(EXPORT_DIR)
    outputs = model.signatures["serving_default"](waveform=tf.constant(samples))
    names = model.signatures["metadata"]()["class_names"]

:func:`load` opens an export directory or a run directory behind the same
interface, for ``airtf-predict``.
"""

import contextlib
import csv
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
from keras import ops

from airtf import attention, features, params
from airtf.errors import AirtfError
from airtf.evaluate import CLASSES_NAME, FEATURE_SPEC_NAME, MODEL_NAME
from airtf.frontend import LogMelExamples
from airtf.runs import RunError

RUN_FILES = (MODEL_NAME, FEATURE_SPEC_NAME, CLASSES_NAME)
"""What :meth:`Pipeline.from_run` reads from a run directory."""
CLASS_NAMES_ASSET = "class_names.csv"
SERVING_SIGNATURE = "serving_default"
METADATA_SIGNATURE = "metadata"
OUTPUTS = ("probabilities", "frame_probabilities", "attention", "timestamps", "features", "log_mel")
"""Outputs of the serving signature, in the order the module docstring describes them."""


class ExportError(AirtfError):
    """An export directory cannot be written or read as asked."""


class Pipeline:
    """Waveform to instrument probabilities, per-frame activity and features, in Keras.

    Parameters
    ----------
    feature_model : keras.Model
        Log-mel examples of clips (batch, n, 96, 64) to frame features
        (batch, T, D), each example giving its own T / n frames (as every
        feature set of :mod:`airtf.features` does). The pipeline feeds it
        the n examples of a waveform as n clips of one example and
        concatenates their frames: the same features, one batched VGGish
        call, and no unknown time axis, which Keras 3.15's TimeDistributed
        miscounts in a graph (it maps over the batch size instead).
    classifier : airtf.attention.AttentionClassifier
    class_names : list of str
        The C instrument names, in the classifier's order.

    Attributes
    ----------
    frame_hop_seconds : float
        Seconds from one feature frame to the next: 0.96 s divided by the
        frames the feature model makes of one example.
    """

    def __init__(self, feature_model, classifier, class_names):
        self.examples = LogMelExamples(pad=True)
        self.feature_model = feature_model
        self.classifier = classifier
        self.class_names = list(class_names)
        self.frame_hop_seconds = params.EXAMPLE_HOP_SECONDS / _frames_per_example(feature_model)

    @classmethod
    def from_run(cls, run_dir):
        """The pipeline of an ``airtf-eval`` run directory.

        Reads ``attention.keras`` (the classifier), ``feature_spec.json``
        (rebuilt with :func:`airtf.features.build_feature_model`) and
        ``classes.json`` (the class names in order).

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
            raise RunError(f"{classifier_path}: cannot load the classifier ({_first_line(error)}); "
                           "run airtf-eval again to rewrite it") from None
        if not isinstance(classifier, attention.AttentionClassifier):
            raise RunError(f"{classifier_path}: holds a {type(classifier).__name__}, not an AttentionClassifier; "
                           "pass a run directory written by airtf-eval")
        if len(class_names) != classifier.num_classes:
            raise RunError(f"{run_dir / CLASSES_NAME}: {len(class_names)} class names for a classifier of "
                           f"{classifier.num_classes} classes; the run directory mixes two runs")
        return cls(features.build_feature_model(spec), classifier, class_names)

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
        log_mel = self.examples(waveform)
        per_example = self.feature_model(ops.expand_dims(log_mel, 1), training=False)
        features = ops.reshape(ops.cast(per_example, "float32"), (-1, per_example.shape[-1]))
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


def _frames_per_example(feature_model):
    """Frames the feature model makes of one log-mel example (1 for VGGish, 96 for log-mel)."""
    probe = np.zeros((1, 1, params.EXAMPLE_FRAMES, params.NUM_MEL_BINS), np.float32)
    return int(ops.shape(feature_model(probe, training=False))[1])


def _check_run_files(run_dir):
    """Raise RunError naming every file of :data:`RUN_FILES` that ``run_dir`` lacks."""
    missing = [name for name in RUN_FILES if not (run_dir / name).is_file()]
    if missing:
        problem = "not found" if not run_dir.exists() else f"has no {', '.join(missing)}"
        raise RunError(f"{run_dir}: {problem}; pass a run directory written by a finished airtf-eval")


def _read_json(path):
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunError(f"{path}: unreadable ({_first_line(error)}); run airtf-eval again to rewrite it") from None


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class ExportInfo(NamedTuple):
    """What :func:`export` wrote: where, the class names and the serving outputs' shapes."""

    path: Path
    class_names: list
    output_shapes: dict


def export(run_dir, out, overwrite=False):
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
        Replace ``out`` if it exists.

    Returns
    -------
    ExportInfo

    Raises
    ------
    ExportError
        When ``out`` exists and ``overwrite`` is false.
    RunError
        When ``run_dir`` lacks a file (see :meth:`Pipeline.from_run`).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: is a file, not a directory; choose another --out")
    if out.exists() and not overwrite:
        raise ExportError(f"{out}: already exists; pass --overwrite to replace it, or choose another --out")
    pipeline = Pipeline.from_run(run_dir)
    with _atomic_directory(out) as temporary:
        output_shapes = write_saved_model(pipeline, temporary)
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
        tf.saved_model.save(module, str(path), signatures={SERVING_SIGNATURE: serving,
                                                           METADATA_SIGNATURE: module.metadata})
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
    module.serve = tf.function(pipeline.outputs,
                               input_signature=[tf.TensorSpec([None], tf.float32, name="waveform")])
    class_names = tf.constant(pipeline.class_names)
    frame_hop_seconds = tf.constant(pipeline.frame_hop_seconds, tf.float32)
    sample_rate = tf.constant(params.SAMPLE_RATE, tf.int32)

    @tf.function(input_signature=[])
    def metadata():
        return {"class_names": class_names, "class_names_file": module.class_names_file.asset_path,
                "frame_hop_seconds": frame_hop_seconds, "sample_rate": sample_rate}

    module.metadata = metadata
    return module


@contextlib.contextmanager
def _atomic_directory(path):
    """Yield a temporary directory beside ``path``; on success it replaces ``path``.

    On failure the temporary is removed and ``path`` is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{os.getpid()}.partial.{path.name}")
    replaced = path.with_name(f".{os.getpid()}.replaced.{path.name}")
    try:
        yield temporary
        if path.exists():
            os.replace(path, replaced)
        os.replace(temporary, path)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
        shutil.rmtree(replaced, ignore_errors=True)


class ExportedModel:
    """A SavedModel written by :func:`export`, behind :class:`Pipeline`'s interface.

    Parameters
    ----------
    path : str or Path
        The export directory.

    Attributes
    ----------
    class_names : list of str
    frame_hop_seconds : float
    """

    def __init__(self, path):
        import tensorflow as tf

        path = Path(path)
        try:
            saved = tf.saved_model.load(str(path))
        except Exception as error:  # TensorFlow raises many kinds for a damaged SavedModel
            raise ExportError(f"{path}: cannot load the SavedModel ({_first_line(error)}); "
                              "export it again with airtf-export") from None
        if not {SERVING_SIGNATURE, METADATA_SIGNATURE} <= set(saved.signatures):
            raise ExportError(f"{path}: a SavedModel without the {SERVING_SIGNATURE} and {METADATA_SIGNATURE} "
                              "signatures; pass a directory written by airtf-export")
        self._saved = saved
        self._serve = saved.signatures[SERVING_SIGNATURE]
        metadata = saved.signatures[METADATA_SIGNATURE]()
        self.class_names = [name.decode() for name in metadata["class_names"].numpy()]
        self.frame_hop_seconds = float(metadata["frame_hop_seconds"].numpy())

    def __call__(self, waveform):
        """The serving outputs of a numpy waveform (samples,), as numpy arrays."""
        outputs = self._serve(waveform=np.asarray(waveform, dtype=np.float32))
        return {name: outputs[name].numpy() for name in OUTPUTS}


def load(path):
    """The recogniser in an export directory or an ``airtf-eval`` run directory.

    Returns
    -------
    ExportedModel or Pipeline
        Either is called on a numpy waveform (mono, 16 kHz, any length) and
        returns the outputs of :data:`OUTPUTS` as numpy arrays; both have
        ``class_names`` and ``frame_hop_seconds``.

    Raises
    ------
    ExportError, RunError
        When ``path`` is neither, or a file in it is damaged.
    """
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        return ExportedModel(path)
    if (path / MODEL_NAME).is_file():
        return Pipeline.from_run(path)
    problem = "not found" if not path.exists() else "neither an export directory nor a run directory"
    raise ExportError(f"{path}: {problem}; pass a directory written by airtf-export, "
                      "or a run directory written by a finished airtf-eval")
