"""Recogniser files of ``airtf-export --format litert|onnx``, run by ai-edge-litert or ONNX Runtime.

Loads neither Keras nor TensorFlow: ``airtf-predict --model FILE.tflite``
runs without them.

:func:`load` opens one behind the interface of
:class:`airtf.serve.export.ExportedModel`: called on a waveform it gives
the serving outputs, and its streaming methods let
:func:`airtf.serve.predict.predict_file` go over audio of any length in
bounded memory (``frame_features`` segment by segment, the classifier's
moments and scores from ``chunk_scores``; see
:mod:`airtf.serve.portable`).
"""

import json
import mmap
import os
import struct
from pathlib import Path

import numpy as np

from airtf.errors import AirtfError, first_line
from airtf.serve.signatures import (CHUNK_OUTPUTS, CHUNK_SIGNATURE, FORMATS, METADATA_NAME, OUTPUTS,
                                    SEGMENT_SIGNATURE, SERVING_SIGNATURE)

METADATA_FIELDS = ("class_names", "frame_hop_seconds", "statistics_shape", "statistics_layers", "example_samples",
                   "hop_samples", "edge_samples")
EXTRAS = {"litert": ("ai_edge_litert", "airtf[litert]"), "onnx": ("onnxruntime", "airtf[onnx]")}


class PortableModelError(AirtfError):
    """A LiteRT or ONNX file that is not a recogniser airtf-export wrote, or whose runtime is missing."""


def format_of(path):
    """"litert" or "onnx" by the file's suffix; None for any other path."""
    return next((format for format, suffix in FORMATS.items() if str(path).endswith(suffix)), None)


class PortableRecognizer:
    """A recogniser file, run by its runtime; subclasses give ``_serve``, ``_segment_features`` and ``_run_chunk``.

    Attributes
    ----------
    class_names, frame_hop_seconds, statistics_shape, statistics_layers, example_samples, hop_samples, edge_samples
        As the file's metadata states them.
    metadata : dict
        The whole metadata document.
    """

    def __init__(self, path, document):
        missing = [field for field in METADATA_FIELDS if field not in document]
        if missing:
            raise PortableModelError(f"{path}: its airtf metadata lacks {', '.join(missing)}; export it again with "
                                     "this version of airtf-export")
        self.path = path
        self.metadata = document
        self.class_names = list(document["class_names"])
        self.frame_hop_seconds = float(document["frame_hop_seconds"])
        self.statistics_shape = tuple(document["statistics_shape"])
        self.statistics_layers = int(document["statistics_layers"])
        self.example_samples = int(document["example_samples"])
        self.hop_samples = int(document["hop_samples"])
        self.edge_samples = int(document["edge_samples"])

    def __call__(self, waveform):
        """The serving outputs of a waveform (samples,), as numpy arrays."""
        outputs = self._serve(np.asarray(waveform, np.float32))
        return {name: outputs[name] for name in OUTPUTS}

    def frame_features(self, segment):
        """Frame features (t, D) of a waveform segment of whole examples, its edges mirrored."""
        return self._segment_features(np.asarray(segment, np.float32))

    def group_moments(self, features, statistics, layer):
        """Per-group mean and variance of a chunk of frames for layer ``layer`` (see :class:`Pipeline`)."""
        outputs = self._chunk(features, statistics)
        return outputs["chunk_mean"][layer], outputs["chunk_variance"][layer]

    def chunk_scores(self, features, statistics):
        """Attention weights and per-frame probabilities of a chunk of frames."""
        outputs = self._chunk(features, statistics)
        return outputs["chunk_attention_weights"], outputs["chunk_frame_probabilities"]

    def _chunk(self, features, statistics):
        return self._run_chunk(np.asarray(features, np.float32), np.asarray(statistics, np.float32))


class LiteRTRecognizer(PortableRecognizer):
    """A ``.tflite`` recogniser run by ai-edge-litert's interpreter (its two signatures)."""

    def __init__(self, path):
        from ai_edge_litert.interpreter import Interpreter

        super().__init__(path, _litert_metadata(path))
        try:
            interpreter = Interpreter(model_path=str(path), num_threads=os.cpu_count())
            self._serving = interpreter.get_signature_runner(SERVING_SIGNATURE)
            self._segments = interpreter.get_signature_runner(SEGMENT_SIGNATURE)
            self._chunks = interpreter.get_signature_runner(CHUNK_SIGNATURE)
        except (ValueError, RuntimeError) as error:
            raise PortableModelError(f"{path}: LiteRT cannot run it ({first_line(error)}); export it again with "
                                     "airtf-export") from None
        self._interpreter = interpreter

    def _serve(self, waveform):
        return self._serving(waveform=waveform)

    def _segment_features(self, segment):
        return self._segments(segment=segment)["segment_features"]

    def _run_chunk(self, features, statistics):
        return self._chunks(chunk=features, statistics=statistics)


class OnnxRecognizer(PortableRecognizer):
    """An ``.onnx`` recogniser run by ONNX Runtime (one graph; a waveform always, the other inputs when used)."""

    def __init__(self, path):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # the inputs with defaults are initializers too, which it warns about
        try:
            session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # ONNX Runtime raises its own kinds for a damaged file
            raise PortableModelError(f"{path}: ONNX Runtime cannot load it ({first_line(error)}); export it again "
                                     "with airtf-export") from None
        document = session.get_modelmeta().custom_metadata_map.get(METADATA_NAME)
        super().__init__(path, _parsed(path, document))
        self._session = session
        self._silence = np.zeros(self.example_samples, np.float32)  # the waveform the graph always takes

    def _serve(self, waveform):
        return dict(zip(OUTPUTS, self._session.run(list(OUTPUTS), {"waveform": waveform})))

    def _segment_features(self, segment):
        return self._session.run(["segment_features"], {"waveform": self._silence, "segment": segment})[0]

    def _run_chunk(self, features, statistics):
        feed = {"waveform": self._silence, "chunk": features, "statistics": statistics}
        return dict(zip(CHUNK_OUTPUTS, self._session.run(list(CHUNK_OUTPUTS), feed)))


def _parsed(path, document):
    if document is None:
        raise PortableModelError(f"{path}: has no airtf metadata, so it is not a recogniser airtf-export wrote "
                                 "(an embedder is run by its runtime directly)")
    try:
        parsed = json.loads(document)
    except json.JSONDecodeError as error:
        raise PortableModelError(f"{path}: its airtf metadata is not JSON ({error}); export it again") from None
    if not isinstance(parsed, dict):
        raise PortableModelError(f"{path}: its airtf metadata is not a JSON object; export it again")
    return parsed


def _litert_metadata(path):
    """The JSON document named :data:`METADATA_NAME` in a LiteRT file's metadata, read without loading it all."""
    from ai_edge_litert import schema_py_generated as schema

    def not_litert(reason):
        return PortableModelError(f"{path}: not a LiteRT file ({reason}); pass a .tflite file written by "
                                  "airtf-export")

    with open(path, "rb") as stream:
        if len(stream.read(8)) < 8:
            raise not_litert("too short")
        with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            if not schema.Model.ModelBufferHasIdentifier(mapped, 0):
                raise not_litert("no TFL3 identifier")
            try:
                model = schema.Model.GetRootAs(mapped, 0)
                for index in range(model.MetadataLength()):
                    entry = model.Metadata(index)
                    if entry.Name() == METADATA_NAME.encode():
                        document = model.Buffers(entry.Buffer()).DataAsNumpy().tobytes().decode()
                        return _parsed(path, document)
            except (struct.error, IndexError, UnicodeDecodeError, AttributeError) as error:
                raise not_litert(f"its structure is damaged: {first_line(error)}") from None
    return _parsed(path, None)


def replacements_refused(path, replaced):
    """The one-line message for flags (name -> value) that would replace an export's own features model."""
    given = [flag for flag, value in replaced.items() if value is not None]
    return (f"{path}: an export holds its own features model, so {', '.join(given)} does not apply; leave it out, "
            "or pass the airtf-eval run directory instead") if given else None


def load(path, replaced=None):
    """The recogniser in a ``.tflite`` or ``.onnx`` file written by ``airtf-export``.

    Parameters
    ----------
    path : str or Path
    replaced : dict or None
        Flags that would replace its features model (``{"--hop": 0.48}``);
        any value but None is refused.

    Raises
    ------
    PortableModelError
        When the file is missing, damaged or not a recogniser, its runtime is
        not installed, or ``replaced`` gives a value.
    """
    path = Path(path)
    format = format_of(path)
    if format is None:
        raise PortableModelError(f"{path}: neither .tflite nor .onnx; pass a file written by airtf-export --format")
    refused = replacements_refused(path, replaced or {})
    if refused:
        raise PortableModelError(refused)
    if not path.is_file():
        raise PortableModelError(f"{path}: not found; pass a file written by airtf-export --format {format}")
    module, extra = EXTRAS[format]
    try:
        __import__(module)
    except ImportError:
        raise PortableModelError(f"{path}: running a {format} file needs {module}; pip install '{extra}'") from None
    return LiteRTRecognizer(path) if format == "litert" else OnnxRecognizer(path)
