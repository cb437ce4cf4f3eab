"""Feature sets for the second stage: what the attention classifier sees of a clip.

A feature set turns a clip's (n, 96, 64) log-mel examples into (T, D) frame
features. The paper compares:

``pca``
    The features released with OpenMIC-2018, ``X / 255``: the 2017 VGGish,
    its PCA and 8-bit quantisation. They are read from the release (the
    npz's X, else the per-clip vggish/ JSON) and never recomputed, so the
    data directory must hold them (``airtf-data demo --weights ...`` fills
    them for a demo set). The feature model for export recomputes them from
    audio with the official weights and PCA parameters. (10, 128).
``norm``
    Raw embeddings of a VGGish (the official weights, or those given),
    min-max normalised to [0, 1] with statistics fitted on the training
    split; other clips may fall outside [0, 1]. (10, 128).
``random``
    Raw embeddings of a randomly initialised (Glorot uniform, seeded)
    VGGish, not normalised: the classifier's input BatchNormalization
    rescales them. (10, 128).
``logmel``
    The log-mel frames themselves, VGGish being the identity: (960, 64)
    for a 10 s clip.
a pre-training run directory or a weights file (kind ``pretrained``)
    Its VGGish's embeddings (the variant the run's config.json names),
    normalised like ``norm``. (10, 128).
a musicnn model (kind ``musicnn``: ``musicnn-mtt``, ``musicnn-msd``, ``vgg-mtt``, ``vgg-msd``)
    One layer of musicnn's released taggers (``--layer``, default
    max_pool: (3, 753); vgg: pool5, (3, 256)), one frame per 3 s patch,
    normalised like ``norm``. Beyond the paper's grid: the genuinely
    pretrained music representation reachable offline.

Each is a :class:`FeatureSet` class, registered under its kind; a
:class:`FeatureSpec` names one completely (a plain dict, written as JSON in
run directories). :func:`parse` makes a feature set from ``--features``,
:func:`from_spec` from a spec; its ``compute`` gives the (T, D) features of
clips, ``fitted`` fits its normalisation, ``model`` the Keras model from
log-mel examples to frame features, post-processing included, which is what
export ships.

Cache
-----
Features computed from audio go through the feature engine
(:mod:`airtf.features.engine`: the extraction of airtf-extract, and the one
array cache) under ``cache_dir`` (default
:func:`airtf.support.files.feature_cache`): ``log-mel/`` holds the ``logmel``
set's examples; ``vggish-<weights>-<variant>-<hash>/`` holds one ``.npy`` per
clip of a backbone's raw embeddings, before normalisation, so that a change
of training split only refits the statistics. The folder's hash and every
entry's key cover the weights' sha256 (or the seed and Keras version of a
random VGGish), the variant and the front-end parameters; an entry's key
covers its audio file's path, size and modification time too. Extraction
interrupted half-way keeps the clips already done.
"""
import abc
import functools
import json
import time
import warnings
from pathlib import Path
from typing import TypedDict

import keras
import numpy as np

from airtf import musicnn, params, vggish
from airtf.audio.frames import with_hop
from airtf.datasets.openmic import CLIP_SECONDS, EXAMPLES_PER_CLIP, FEATURE_MAX
from airtf.datasets.pipeline import DatasetError, missing_files
from airtf.errors import AirtfError, AirtfWarning, CheckpointError
from airtf.features import engine, extract
from airtf.musicnn import audio_converter
from airtf.musicnn.backbone import output_shapes as backbone_shapes
from airtf.runs.layout import FEATURE_SPEC_NAME
from airtf.support import array_cache
from airtf.support.files import digest as file_digest
from airtf.support.files import display, feature_cache, write_json
from airtf.vggish import presets
from airtf.vggish.audio_converter import LogMelExamples

RESAMPLER = "resampy"
CLIPS_PER_BATCH = 16
FRONTEND_KEYS = ("sample_rate", "window_length", "hop_length", "fft_length", "num_mel_bins", "lower_hz",
                 "upper_hz", "log_offset", "example_frames", "hop_frames")
FEATURE_SETS = {}
"""Kind -> :class:`FeatureSet` class."""
NPY_HEADER_BYTES = 128
LOG_MEL_SHAPE = (params.EXAMPLE_FRAMES, params.NUM_MEL_BINS)
LOG_MEL_CLIP_BYTES = EXAMPLES_PER_CLIP * params.EXAMPLE_FRAMES * params.NUM_MEL_BINS * 4 + NPY_HEADER_BYTES
"""A clip's cached log-mel examples on disk (about: a clip a little over 10 s keeps one more)."""
EMBEDDING_CLIP_BYTES = EXAMPLES_PER_CLIP * params.EMBEDDING_SIZE * 4 + NPY_HEADER_BYTES
"""A clip's cached raw embeddings on disk."""


class FeatureError(AirtfError):
    """A feature set is unknown, or cannot be built as asked."""


class ReplacedWeightsWarning(AirtfWarning):
    """A feature model computes its features with other weights than those the classifier was trained on."""


class FeatureSpec(TypedDict):
    """Everything that defines a feature set; a plain, JSON-serialisable dict.

    Keys
    ----
    kind : a key of :data:`FEATURE_SETS` ("pca", "norm", "random", "logmel", "pretrained")
    weights : "official", "random", the absolute path of a weights file, or None (logmel)
    weights_sha256 : sha256 of the weights file; for "official" the official
        checkpoint's, from the presets; None for random and logmel
    variant : VGGish variant (see :mod:`airtf.vggish`), None for logmel
    seed : seed of a random VGGish, else None
    postprocess : "pca" (PCA, 8-bit quantisation, / 255), "minmax" or None
    pca_params_sha256 : sha256 of the official PCA parameters (pca), else None
    normalization : {"minimum": [D floats], "maximum": [D floats]} once
        fitted (:meth:`FeatureSet.fitted`), else None
    frontend : the log-mel front end's parameters and resampler
    layer : the layer of a musicnn model; absent or None otherwise
    """

    kind: str
    weights: str | None
    weights_sha256: str | None
    variant: str | None
    seed: int | None
    postprocess: str | None
    pca_params_sha256: str | None
    normalization: dict | None
    frontend: dict
    layer: str | None


def frontend_settings():
    """The parameters of the official log-mel front end, and the resampler."""
    config = LogMelExamples().get_config()
    return {**{key: config[key] for key in FRONTEND_KEYS}, "resampler": RESAMPLER}


def register(cls):
    """Class decorator: make a :class:`FeatureSet` subclass available under its ``kind``."""
    FEATURE_SETS[cls.kind] = cls
    return cls


def parse(features, weights=None, variant=None, seed=0, layer=None, hop=None):
    """The feature set that a ``--features`` value names (with ``--weights``, ``--variant``, ``--feature-seed``,
    ``--layer``, ``--hop``).

    Parameters
    ----------
    features : str
        A named kind ("pca", "norm", "random", "logmel"), or a pre-training
        run directory or weights file.
    weights : str or None
        The VGGish of "norm" (default official); refused elsewhere.
    variant : str or None
        The VGGish variant of norm, random and pre-trained backbones
        (default: the run's own, else audioset-2017); refused for pca and logmel.
    seed : int
        Seed of a random VGGish.
    layer : str or None
        The layer of a musicnn model (``--features musicnn-mtt`` ...); refused elsewhere.
    hop : float or None
        Seconds from one example to the next (None: the model's own); for the
        sets computed from audio by a backbone (overlapping examples, more
        frames per clip), refused for pca and logmel.

    Returns
    -------
    FeatureSet
        Not yet fitted; see :meth:`FeatureSet.fitted`.
    """
    features = str(features)
    if musicnn.names_musicnn(features):
        if weights is not None or variant is not None:
            raise FeatureError(f"--weights and --variant are VGGish's; --features {features} is a musicnn model: "
                               "leave them out")
        return MusicnnFeatures(MusicnnFeatures.with_hop(MusicnnFeatures.spec_of(features, layer), hop))
    if layer is not None:
        raise FeatureError("--layer chooses the layer of a musicnn model (--features musicnn-mtt, ...); leave it out")
    named = {kind: cls for kind, cls in FEATURE_SETS.items() if cls.named}
    kind = features if features in named else PretrainedVGGish.kind if Path(features).exists() else None
    if kind is None:
        raise FeatureError(f"unknown feature set {features!r}: choose {', '.join(named)}, "
                           "or pass a pre-training run directory or a weights file that exists")
    cls = FEATURE_SETS[kind]
    if weights is not None and not cls.takes_weights:
        raise FeatureError(f"--weights applies to --features norm only, not to {features!r}; "
                           "a pre-trained backbone is given as --features RUN_DIR_OR_WEIGHTS")
    if variant is not None and not cls.takes_variant:
        raise FeatureError(f"--variant does not apply to --features {features}; "
                           "pca is the 2017 VGGish of the release, logmel has no VGGish")
    if variant is not None and variant not in vggish.VGGISH_VARIANTS:
        raise FeatureError(f"unknown VGGish variant {variant!r}; choose one of {', '.join(vggish.VGGISH_VARIANTS)}")
    return cls(cls.with_hop(cls.spec_for(features, weights, variant, seed), hop))


def of_run(run_dir):
    """The feature set of an airtf-eval run directory, with its fitted statistics (its feature_spec.json)."""
    path = Path(run_dir) / FEATURE_SPEC_NAME
    try:
        spec = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FeatureError(f"{path}: cannot read the run's feature set ({error.__class__.__name__}); pass an "
                           "airtf-eval run directory (--weights RUN_DIR)") from None
    return from_spec(spec)


def from_spec(spec):
    """The feature set that a :class:`FeatureSpec` (e.g. a run's feature_spec.json) names."""
    if not isinstance(spec, dict) or spec.get("kind") not in FEATURE_SETS:
        kind = spec.get("kind") if isinstance(spec, dict) else spec
        raise FeatureError(f"unknown feature set {kind!r} in a feature spec; choose one of {', '.join(FEATURE_SETS)}")
    return FEATURE_SETS[spec["kind"]](spec)


def _spec(kind, source=None, postprocess=None, pca_params_sha256=None):
    """A :class:`FeatureSpec` of ``kind`` on the VGGish ``source`` (a WeightsSource, or None)."""
    identity = source.identity() if source is not None else {}
    return FeatureSpec(kind=kind, weights=identity.get("weights"), weights_sha256=identity.get("sha256"),
                       variant=identity.get("variant"), seed=identity.get("seed"), postprocess=postprocess,
                       pca_params_sha256=pca_params_sha256, normalization=None, frontend=frontend_settings(),
                       layer=None)


def _source(weights, variant, seed):
    try:
        return vggish.WeightsSource.parse(weights, variant, seed)
    except CheckpointError as error:
        raise FeatureError(str(error)) from None


class FeatureSet(abc.ABC):
    """A feature set: what the attention classifier sees of a clip (see the module docstring).

    Parameters
    ----------
    spec : FeatureSpec
    """

    kind = ""
    reads_audio = True
    """Whether it is computed from the clips' audio (into the cache)."""
    named = True
    """Whether ``--features`` names it by its kind (a pre-training run is named by its path)."""
    takes_weights = False
    takes_variant = False
    frame_shape = (EXAMPLES_PER_CLIP, params.EMBEDDING_SIZE)
    """(T, D) of a clip's features."""
    example_shape = LOG_MEL_SHAPE
    """The front end's examples the feature model takes: VGGish's log-mel (96, 64)."""

    def __init__(self, spec):
        self.spec = FeatureSpec(**spec)

    @classmethod
    @abc.abstractmethod
    def spec_for(cls, features, weights, variant, seed):
        """The spec of the ``--features`` value (see :func:`parse`)."""

    @abc.abstractmethod
    def describe(self):
        """A short human description, e.g. ``norm: official VGGish, min-max``."""

    def check_available(self, openmic):
        """Fail early, with the fix, when what the features are computed from is missing."""

    def fitted(self, openmic, train_keys, cache_dir=None):
        """The feature set with what it fits on the training clips (itself when it fits nothing)."""
        return self

    @abc.abstractmethod
    def compute(self, openmic, keys, cache_dir=None):
        """Frame features of clips, float32 (len(keys), T, D), computed once and cached."""

    def uncomputed(self, openmic, keys, cache_dir=None):
        """What :meth:`compute` of ``keys`` would compute and write, checking the cache and writing nothing.

        Returns
        -------
        clips : list of str
            The keys whose features are not cached.
        disk : dict
            Cache part -> bytes it would write.
        """
        return [], {}

    def seconds_per_clip(self, openmic, keys):
        """Measured: seconds to compute one clip's features from its audio, on a few of ``keys``."""
        return 0.0

    def model(self, weights=None, variant=None, pca_params=None):
        """The Keras model from log-mel examples (batch, n, 96, 64) to frame features (batch, T, D).

        Parameters
        ----------
        weights : str or None
            Replace the feature set's VGGish with these weights (anything
            ``--weights`` takes), e.g. ``random`` where the official checkpoint
            is not on disk. The features then differ from those the
            classifier was trained on: a :class:`ReplacedWeightsWarning` says so.
        variant : str or None
            Replace the VGGish variant.
        pca_params : str or os.PathLike or None
            The PCA file of the pca feature set (default: the official one in
            the models folder).

        Returns
        -------
        keras.Model
            float32 in and out: T = n and D = 128 for VGGish features,
            T = 96 n and D = 64 for logmel. PCA and min-max normalisation are
            layers of the model.
        """
        if pca_params is not None and self.spec["postprocess"] != "pca":
            raise FeatureError(f"the {self.kind} feature set has no PCA, so --pca-params does not apply; leave it out")
        examples = keras.Input((None, *self.example_shape), name="log_mel_examples")
        frames = self._frames(examples, weights, variant)
        for layer in self._postprocess_layers(pca_params):
            frames = layer(frames)
        return keras.Model(examples, frames, name=f"features_{self.kind}")

    @abc.abstractmethod
    def _frames(self, examples, weights, variant):
        """The frames before post-processing, of the input ``examples``."""

    def _postprocess_layers(self, pca_params):
        return []

    def front_end(self):
        """The layer that makes the feature model's examples from audio: VGGish's log-mel examples."""
        return LogMelExamples(hop_frames=self.spec["frontend"].get("hop_frames", params.EXAMPLE_HOP_FRAMES))

    @classmethod
    def with_hop(cls, spec, hop):
        """``spec`` with examples ``hop`` seconds apart (itself for None); refused where no backbone reads audio."""
        if hop is None:
            return spec
        if not issubclass(cls, BackboneFeatures) or not cls.reads_audio:
            raise FeatureError(f"--hop does not apply to --features {spec['kind']}: "
                               + ("pca is the release's features" if spec["kind"] == "pca" else
                                  "overlapping examples would repeat its frames"))
        front_end = with_hop(cls(spec).front_end(), hop)
        return FeatureSpec(**{**spec, "frontend": {**spec["frontend"], "hop_frames": front_end.hop_frames}})

    def frames_extractor(self, **options):
        """An Extractor of this feature set's frames from audio (``--output normalised``); options go to it."""
        raise FeatureError(f"the {self.kind} feature set is not normalised; extract its features with --output "
                           "embedding, pca or logmel")


@register
class LogMelFrames(FeatureSet):
    """``logmel``: the log-mel frames themselves, (960, 64) for a 10 s clip."""

    kind = "logmel"
    frame_shape = (EXAMPLES_PER_CLIP * params.EXAMPLE_FRAMES, params.NUM_MEL_BINS)

    @classmethod
    def spec_for(cls, features, weights, variant, seed):
        return _spec(cls.kind)

    def describe(self):
        return "logmel: log-mel frames"

    def compute(self, openmic, keys, cache_dir=None):
        frames = EXAMPLES_PER_CLIP * params.EXAMPLE_FRAMES
        examples = engine.file_features(audio_paths(openmic, keys, self), self.extractor, _log_mel_cache(cache_dir),
                                        self.spec["frontend"], EXAMPLES_PER_CLIP, LOG_MEL_SHAPE, "logmel features")
        return examples.reshape(len(keys), frames, params.NUM_MEL_BINS)

    def uncomputed(self, openmic, keys, cache_dir=None):
        clips = _uncached(openmic, keys, self, _log_mel_cache(cache_dir), self.spec["frontend"])
        return clips, {"log-mel cache": len(clips) * LOG_MEL_CLIP_BYTES}

    def seconds_per_clip(self, openmic, keys):
        return _seconds_per_clip(openmic, keys, self.extractor())

    def extractor(self):
        """The :class:`~airtf.features.extract.Extractor` of the clips' log-mel examples."""
        return extract.Extractor("logmel", resampler=RESAMPLER)

    def _frames(self, examples, weights, variant):
        if weights is not None or variant is not None:
            raise FeatureError("the logmel feature set has no VGGish, so --weights and --variant do not apply; "
                               "leave them out")
        return keras.layers.Reshape((-1, params.NUM_MEL_BINS), name="log_mel_frames")(examples)


class PerExample(keras.layers.Layer):
    """A model applied to every example of clips, (batch, n, ...) to (batch, n, ...), as one batched call.

    The clips' examples are flattened into one batch for the model and its
    outputs regrouped by clip, so that neither the number of clips nor the
    examples per clip need to be known when the graph is traced (Keras
    3.15's TimeDistributed takes the batch size for an unknown time axis).
    """

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self.model = model

    def call(self, examples):
        clips, per_clip = keras.ops.shape(examples)[0], keras.ops.shape(examples)[1]
        outputs = self.model(keras.ops.reshape(examples, (-1, *examples.shape[2:])))
        return keras.ops.reshape(outputs, (clips, per_clip, *outputs.shape[1:]))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], *self.model.compute_output_shape((None, *input_shape[2:]))[1:])


class BackboneFeatures(FeatureSet):
    """Features of a backbone computed from audio through the engine: a VGGish's embeddings, one frame per
    0.96 s example (a subclass may have another backbone and front end)."""

    @property
    def row_shape(self):
        """One example's features before post-processing."""
        return self.frame_shape[1:]

    @property
    def frame_shape(self):
        """(examples of a 10 s clip at the spec's hop, 128)."""
        return clip_examples(self.front_end()), params.EMBEDDING_SIZE

    def _backbone(self, weights=None, variant=None):
        """The spec's VGGish, its weights checked against the spec's sha256, or the one that replaces it."""
        spec = self.spec
        if weights is not None or variant is not None:
            replaced = weights or spec["weights"]
            if replaced != spec["weights"] or (variant or spec["variant"]) != spec["variant"]:
                warnings.warn(f"the classifier was trained on features of {_weights_text(spec['weights'])} "
                              f"({spec['variant']}); these come from {_weights_text(replaced)} "
                              f"({variant or spec['variant']}), so its outputs differ from the trained model's",
                              ReplacedWeightsWarning, stacklevel=5)
            return vggish.from_preset(replaced, variant or spec["variant"], spec["seed"] or 0)
        reference = spec["weights"]
        if reference not in presets.KEYWORDS:
            if not Path(reference).is_file():
                raise FeatureError(f"{reference}: the weights of this feature set are gone; restore the file or "
                                   "rerun with other --features")
            if file_digest(reference, "sha256") != spec["weights_sha256"]:
                raise FeatureError(f"{reference}: the weights changed since this feature set was made (sha256 "
                                   "differs); restore them, or rerun airtf-eval in a new --out")
        return vggish.from_preset(reference, spec["variant"], spec["seed"] or 0)

    def _frames(self, examples, weights, variant):
        return PerExample(self._backbone(weights, variant), name="vggish_per_example")(examples)

    def extractor(self):
        """The :class:`~airtf.features.extract.Extractor` of the backbone's raw embeddings, before post-processing.

        The last one made is kept (:func:`_embedding_extractor`), so that train,
        validation and test features come from one model, loaded and traced once.
        """
        return _embedding_extractor(json.dumps({**self.spec, "normalization": None}, sort_keys=True))

    def new_extractor(self):
        """A new extractor of the backbone's raw features (:meth:`extractor` keeps the last one)."""
        return extract.Extractor("embedding", self._backbone(), front_end=self.front_end(), resampler=RESAMPLER)

    def check_available(self, openmic):
        if self.spec["weights"] == "official":
            presets.official_weights()

    def compute(self, openmic, keys, cache_dir=None):
        frames = cached_embeddings(openmic, keys, self, cache_dir)
        for layer in self._postprocess_layers(None):
            frames = np.asarray(layer(frames), np.float32)
        return frames

    def uncomputed(self, openmic, keys, cache_dir=None):
        clips = _uncached(openmic, keys, self, self.cache_folder(cache_dir, create=False), self.cache_identity())
        return clips, {"embedding cache": len(clips) * (int(np.prod(self.frame_shape)) * 4 + NPY_HEADER_BYTES)}

    def seconds_per_clip(self, openmic, keys):
        return _seconds_per_clip(openmic, keys, self.extractor())

    def cache_identity(self):
        """What the cache keys of the backbone's embeddings cover: its weights, variant and front end."""
        spec = self.spec
        random = spec["weights"] == "random"
        return {"weights_sha256": spec["weights_sha256"], "variant": spec["variant"],
                "random_seed": spec["seed"] if random else None, "keras": keras.__version__ if random else None,
                "frontend": spec["frontend"]}

    def cache_folder(self, cache_dir=None, create=True):
        """The cache folder of the backbone's raw embeddings (see the module docstring).

        Made on first use (unless not ``create``), with an identity.json of what its hash covers.
        """
        identity = {"format": array_cache.FORMAT, **self.cache_identity()}
        digest = array_cache.digest(identity)
        folder = Path(cache_dir or feature_cache()) / f"{self._cache_label()}-{digest[:12]}"
        if create and not (folder / "identity.json").is_file():
            write_json(folder / "identity.json", identity)
        return folder

    def _cache_label(self):
        spec = self.spec
        random = spec["weights"] == "random"
        label = f"random{spec['seed']}" if random else ("official" if spec["weights"] == "official"
                                                         else spec["weights_sha256"][:12])
        return f"vggish-{label}-{spec['variant']}"

    def _source_text(self):
        sources = {"random": f"random VGGish (seed {self.spec['seed']})", "official": "official VGGish"}
        return sources.get(self.spec["weights"], f"VGGish of {display(self.spec['weights'])}")


@register
class RandomVGGish(BackboneFeatures):
    """``random``: raw embeddings of a randomly initialised VGGish (seeded), not normalised."""

    kind = "random"
    takes_variant = True

    @classmethod
    def spec_for(cls, features, weights, variant, seed):
        return _spec(cls.kind, _source("random", variant, seed))

    def describe(self):
        return f"random: {self._source_text()}"


class NormalizedFeatures(BackboneFeatures):
    """A backbone's features min-max normalised with statistics fitted on the training clips."""

    takes_variant = True

    def describe(self):
        return f"{self.kind}: {self._source_text()}, min-max"

    def fitted(self, openmic, train_keys, cache_dir=None):
        embeddings = cached_embeddings(openmic, train_keys, self, cache_dir)
        layer = vggish.MinMaxNormalize(embeddings.shape[-1]).adapt(embeddings)
        statistics = {"minimum": _floats(layer.minimum), "maximum": _floats(layer.maximum)}
        return type(self)({**self.spec, "normalization": statistics})

    def frames_extractor(self, **options):
        return extract.Extractor("normalised", self._backbone(), self._postprocess_layers(None)[0],
                                 front_end=self.front_end(), **options)

    def _postprocess_layers(self, pca_params):
        statistics = self.spec["normalization"]
        if statistics is None:
            raise FeatureError(f"the {self.kind} feature set is not normalised yet; fit its statistics on the "
                               "training split (fitted)")
        layer = vggish.MinMaxNormalize(len(statistics["minimum"]), name="minmax")
        layer.minimum.assign(np.asarray(statistics["minimum"], np.float32))
        layer.maximum.assign(np.asarray(statistics["maximum"], np.float32))
        return [layer]


@register
class NormVGGish(NormalizedFeatures):
    """``norm``: a VGGish's embeddings (official, or ``--weights``), min-max normalised."""

    kind = "norm"
    takes_weights = True

    @classmethod
    def spec_for(cls, features, weights, variant, seed):
        return _spec(cls.kind, _source(weights or "official", variant, seed), postprocess="minmax")


@register
class PretrainedVGGish(NormalizedFeatures):
    """A pre-training run's (or weights file's) VGGish, normalised like ``norm``."""

    kind = "pretrained"
    named = False

    @classmethod
    def spec_for(cls, features, weights, variant, seed):
        return _spec(cls.kind, _source(features, variant, seed), postprocess="minmax")


@register
class ReleasedFeatures(BackboneFeatures):
    """``pca``: OpenMIC-2018's released features / 255 (the 2017 VGGish, PCA, 8-bit quantisation)."""

    kind = "pca"
    reads_audio = False

    @classmethod
    def spec_for(cls, features, weights, variant, seed):
        return _spec(cls.kind, _source("official", vggish.DEFAULT_VARIANT, 0), postprocess="pca",
                     pca_params_sha256=presets.manifest()[presets.PCA_NAME]["sha256"])

    def describe(self):
        return "pca: released features / 255"

    def check_available(self, openmic):
        self.compute(openmic, openmic.partitions["train"][:1])

    def uncomputed(self, openmic, keys, cache_dir=None):
        return [], {}  # read from the release, never computed

    def seconds_per_clip(self, openmic, keys):
        return 0.0

    def compute(self, openmic, keys, cache_dir=None):
        try:
            released = openmic.released_features(list(keys))
        except DatasetError as error:
            raise FeatureError(f"{error}; the pca feature set is the release's features (X in openmic-2018.npz "
                               "or vggish/*.json): fill them (airtf-data demo --weights) or choose other "
                               "--features") from None
        return released.astype(np.float32) / FEATURE_MAX

    def _postprocess_layers(self, pca_params):
        pca_file = pca_params or presets.official_pca_params()
        return [vggish.PCAQuantize.from_file(pca_file, name="pca_quantize"),
                keras.layers.Rescaling(1.0 / FEATURE_MAX, dtype="float32", name="to_unit_range")]


@register
class MusicnnFeatures(NormalizedFeatures):
    """A layer of one of musicnn's released taggers, one frame per 3 s patch, normalised like ``norm``."""

    kind = "musicnn"
    named = False
    example_shape = (audio_converter.PATCH_FRAMES, audio_converter.NUM_MEL_BINS)
    largest_frame = 4096
    """Features per patch a layer may have to be a frame (pool5's 256 are; timbral's 187 x 408 are not)."""

    @classmethod
    def spec_for(cls, features, weights, variant, seed):
        return cls.spec_of(features)

    @classmethod
    def spec_of(cls, features, layer=None):
        """The spec of a musicnn preset or checkpoint folder, with its layer (None: the model's default)."""
        try:
            source = musicnn.MusicnnSource.parse(features, layer)
        except CheckpointError as error:
            raise FeatureError(str(error)) from None
        size = int(np.prod(backbone_shapes(source.architecture, len(source.tags()))[source.layer]))
        if size > cls.largest_frame:
            raise FeatureError(f"--layer {source.layer} gives {size:,} features per 3 s patch, too many for one frame "
                               f"of the classifier; choose one of {', '.join(_frame_layers(source))}")
        frontend = {"front_end": "musicnn", "patch_frames": audio_converter.PATCH_FRAMES, "resampler": RESAMPLER}
        return FeatureSpec(kind=cls.kind, weights=str(source.folder or source.preset),
                           weights_sha256=source.identity()["sha256"], variant=None, seed=None, postprocess="minmax",
                           pca_params_sha256=None, normalization=None, frontend=frontend, layer=source.layer)

    def _source(self):
        return musicnn.MusicnnSource.parse(self.spec["weights"], self.spec["layer"])

    @property
    def frame_shape(self):
        source = self._source()
        return clip_examples(self.front_end()), int(np.prod(backbone_shapes(source.architecture,
                                                                             len(source.tags()))[source.layer]))

    def check_available(self, openmic):
        self._source().checkpoint_folder()

    def _backbone(self, weights=None, variant=None):
        if weights is not None or variant is not None:
            raise FeatureError(f"the {self.spec['weights']} feature set is a musicnn model: --weights and --variant "
                               "do not apply; leave them out")
        model = self._source().load()
        if len(model.output.shape) == 2:
            return model
        return keras.Model(model.input, keras.layers.Flatten(name="patch_features")(model.output), name=model.name)

    def front_end(self):
        return musicnn.MusicnnPatches(hop_frames=self.spec["frontend"].get("hop_frames"))

    def uncomputed(self, openmic, keys, cache_dir=None):
        clips = _uncached(openmic, keys, self, self.cache_folder(cache_dir, create=False), self.cache_identity())
        return clips, {"embedding cache": len(clips) * (int(np.prod(self.frame_shape)) * 4 + NPY_HEADER_BYTES)}

    def cache_identity(self):
        return {"weights_sha256": self.spec["weights_sha256"], "layer": self.spec["layer"],
                "frontend": self.spec["frontend"]}

    def _cache_label(self):
        return f"musicnn-{self._source().preset}-{self.spec['layer']}"

    def _source_text(self):
        return self._source().describe()


def clip_examples(front_end):
    """The examples ``front_end`` makes of an OpenMIC clip (10 s): 10 for VGGish, 3 for musicnn."""
    return front_end.compute_output_shape((int(CLIP_SECONDS * params.SAMPLE_RATE) + 2 * front_end.edge_samples,))[0]


def _frame_layers(source):
    """The layers of a musicnn model small enough to be frames."""
    shapes = backbone_shapes(source.architecture, len(source.tags()))
    return [layer for layer, shape in shapes.items() if np.prod(shape) <= MusicnnFeatures.largest_frame]


def _weights_text(reference):
    return {"official": "the official VGGish", "random": "a random VGGish"}.get(str(reference), str(reference))


def _floats(variable):
    return [float(value) for value in np.asarray(variable, np.float32)]


# ---------------------------------------------------------------- the embedding cache

def _log_mel_cache(cache_dir):
    return Path(cache_dir or feature_cache()) / "log-mel"


def audio_paths(openmic, keys, feature_set):
    """The audio file of each clip; a FeatureError naming the first missing one and how many are."""
    paths = [openmic.audio_path(key) for key in keys]
    absent = missing_files(paths)
    if absent:
        raise FeatureError(f"{absent[0]}: audio file not found ({len(absent)} of {len(keys)} clips); the "
                           f"{feature_set.kind} features are computed from the audio: restore the clips or pass "
                           "--limit")
    return paths


def _uncached(openmic, keys, feature_set, folder, computed_by):
    """The keys whose clips' features are not in the cache ``folder``."""
    paths = audio_paths(openmic, keys, feature_set)
    return [key for key, file in zip(keys, engine.entries(paths, folder, computed_by)) if not file.is_file()]


def _seconds_per_clip(openmic, keys, extractor, clips=CLIPS_PER_BATCH):
    """Seconds per clip for ``extractor`` to compute a few clips' features, after one to warm up; no cache."""
    paths = [path for path in map(openmic.audio_path, keys) if path.is_file()][:clips + 1]
    if not paths:
        return 0.0
    extractor.arrays(paths[:1])  # traces the pipeline and the model
    timed = paths[1:] or paths
    start = time.perf_counter()
    extractor.arrays(timed)
    return (time.perf_counter() - start) / len(timed)


def cached_embeddings(openmic, keys, feature_set, cache_dir=None):
    """A backbone feature set's raw features of clips, (len(keys), *frame_shape) float32 (see
    :mod:`airtf.features.engine`).

    Clips already in the cache are read back; the others go through its
    extractor in batches (with a progress bar on a terminal) and are
    written to the cache as they are done.
    """
    paths = audio_paths(openmic, list(keys), feature_set)
    return engine.file_features(paths, feature_set.extractor, feature_set.cache_folder(cache_dir),
                                feature_set.cache_identity(), feature_set.frame_shape[0], feature_set.row_shape,
                                f"{feature_set.kind} features")


@functools.lru_cache(maxsize=1)
def _embedding_extractor(raw_spec):
    """The embedding extractor of a spec (JSON, without statistics); only the last one is kept (bounded memory)."""
    return from_spec(json.loads(raw_spec)).new_extractor()
