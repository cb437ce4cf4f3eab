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

A :class:`FeatureSpec` names a feature set completely (a plain dict, written
as JSON in run directories); :func:`build_feature_model` turns it into the
Keras model from log-mel examples to frame features, post-processing
included, which is what export ships.

Cache
-----
Features computed from audio are cached under ``cache_dir`` (default
:func:`default_cache_dir`): ``log-mel/`` holds the decoded log-mel examples
of every clip, shared by all feature sets (and the ``logmel`` set's only
cache); ``vggish-<weights>-<variant>-<hash>/`` holds one ``.npy`` per clip of
a backbone's raw embeddings, before normalisation, so that a change of
training split only refits the statistics. The folder's hash covers the
weights' sha256 (or the seed and Keras version of a random VGGish), the
variant and the front-end parameters; a clip's file name covers its audio
file's path, size and modification time. Extraction interrupted half-way
keeps the clips already done.
"""

import functools
import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import TypedDict

import keras
import numpy as np
from tqdm import tqdm

from airtf import params, vggish
from airtf.vggish import presets as weight_files
from airtf.datasets.openmic import EXAMPLES_PER_CLIP, FEATURE_MAX
from airtf.datasets.pipeline import DatasetError, missing_files
from airtf.errors import AirtfError, AirtfWarning
from airtf.files import atomic_path, write_json
from airtf.vggish.audio_converter import LogMelExamples

KINDS = ("pca", "norm", "random", "logmel")
"""The named feature sets; anything else must be a run directory or a weights file."""
PRETRAINED = "pretrained"
"""Kind of a feature set given as a pre-training run directory or weights file."""
NORMALIZED_KINDS = ("norm", PRETRAINED)
RESAMPLER = "resampy"
CACHE_FORMAT = 1
"""Part of every cache key; bumped when the cached content changes meaning."""
CLIPS_PER_BATCH = 16
FRONTEND_KEYS = ("sample_rate", "window_length", "hop_length", "fft_length", "num_mel_bins", "lower_hz",
                 "upper_hz", "log_offset", "example_frames", "hop_frames")


class FeatureError(AirtfError):
    """A feature set is unknown, or cannot be built as asked."""


class ReplacedWeightsWarning(AirtfWarning):
    """A feature model computes its features with other weights than those the classifier was trained on."""


class FeatureSpec(TypedDict):
    """Everything that defines a feature set; a plain, JSON-serialisable dict.

    Keys
    ----
    kind : {"pca", "norm", "random", "logmel", "pretrained"}
    weights : "official", "random", the absolute path of a weights file, or None (logmel)
    weights_sha256 : sha256 of the weights file; for "official" the official
        checkpoint's, from models/manifest.json; None for random and logmel
    variant : VGGish variant (see :mod:`airtf.vggish`), None for logmel
    seed : seed of a random VGGish, else None
    postprocess : "pca" (PCA, 8-bit quantisation, / 255), "minmax" or None
    pca_params_sha256 : sha256 of the official PCA parameters (pca), else None
    normalization : {"minimum": [D floats], "maximum": [D floats]} once
        fitted (:func:`fit_normalization`), else None
    frontend : the log-mel front end's parameters and resampler
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


def default_cache_dir():
    """$AIRTF_CACHE, else $XDG_CACHE_HOME/airtf, else ~/.cache/airtf."""
    if os.environ.get("AIRTF_CACHE"):
        return Path(os.environ["AIRTF_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "airtf"


def frontend_settings():
    """The parameters of the official log-mel front end, and the resampler."""
    config = LogMelExamples().get_config()
    return {**{key: config[key] for key in FRONTEND_KEYS}, "resampler": RESAMPLER}


def feature_spec(features, weights=None, variant=None, seed=0):
    """The :class:`FeatureSpec` that a ``--features`` value names.

    Parameters
    ----------
    features : str
        "pca", "norm", "random", "logmel", or a pre-training run directory or
        weights file.
    weights : str or None
        For "norm" only: "official" (default), "random", a weights file or a
        run directory.
    variant : str or None
        VGGish variant for norm, random and pre-trained backbones (default:
        the one a pre-training run's config.json names, else
        :data:`airtf.vggish.DEFAULT_VARIANT`); pca is always the 2017 one.
    seed : int
        Seed of a random VGGish (random, or norm with random weights).

    Returns
    -------
    FeatureSpec
        Not yet normalised; see :func:`fit_normalization`.
    """
    features = str(features)
    if weights is not None and features != "norm":
        raise FeatureError(f"--weights applies to --features norm only, not to {features!r}; "
                           "a pre-trained backbone is given as --features RUN_DIR_OR_WEIGHTS")
    if variant is not None and features in ("pca", "logmel"):
        raise FeatureError(f"--variant does not apply to --features {features}; "
                           "pca is the 2017 VGGish of the release, logmel has no VGGish")
    if variant is not None and variant not in vggish.VARIANTS:
        raise FeatureError(f"unknown VGGish variant {variant!r}; choose one of {', '.join(sorted(vggish.VARIANTS))}")
    if Path(features).exists() and features not in KINDS:
        return _spec(PRETRAINED, *_weights_identity(features), variant or _run_variant(features),
                     postprocess="minmax")
    variant = variant or vggish.DEFAULT_VARIANT
    if features == "pca":
        return _spec("pca", *_weights_identity("official"), vggish.DEFAULT_VARIANT, postprocess="pca",
                     pca_params_sha256=weight_files.manifest()[weight_files.PCA_NAME]["sha256"])
    if features == "logmel":
        return _spec("logmel", None, None, None)
    if features == "random":
        return _spec("random", *_weights_identity("random"), variant, seed=seed)
    if features == "norm":
        reference, sha256 = _weights_identity(weights or "official")
        return _spec("norm", reference, sha256, variant, seed=seed if reference == "random" else None,
                     postprocess="minmax")
    raise FeatureError(f"unknown feature set {features!r}: choose {', '.join(KINDS)}, "
                       "or pass a pre-training run directory or a weights file that exists")


def _run_variant(path):
    """The VGGish variant a pre-training run directory's config.json names, else the default."""
    config = Path(path) / "config.json"
    recorded = json.loads(config.read_text()).get("variant") if config.is_file() else None
    return recorded if recorded in vggish.VARIANTS else vggish.DEFAULT_VARIANT


def check_available(openmic, spec):
    """Fail early, with the fix, when what a feature set is computed from is missing.

    pca needs the release's features, norm with official weights needs them
    on disk; other inputs are checked when used.
    """
    if spec["kind"] == "pca":
        _released_features(openmic, openmic.partitions["train"][:1])
    elif spec["weights"] == "official":
        weight_files.official_weights()


def _spec(kind, reference, sha256, variant, seed=None, postprocess=None, pca_params_sha256=None):
    return FeatureSpec(kind=kind, weights=reference, weights_sha256=sha256, variant=variant, seed=seed,
                       postprocess=postprocess, pca_params_sha256=pca_params_sha256, normalization=None,
                       frontend=frontend_settings())


def _weights_identity(reference):
    """(weights reference, sha256) of what ``--weights`` names."""
    if reference == "official":
        return "official", weight_files.manifest()[weight_files.CHECKPOINT_NAME]["sha256"]
    if reference == "random":
        return "random", None
    path = weight_files.WeightsSource.parse(reference).file()
    if not path.is_file():
        raise FeatureError(f"{path}: not a weights file; pass a .weights.h5 file or a run directory holding "
                           f"{weight_files.RUN_WEIGHTS_NAME}")
    return str(path), weight_files.digest(path, "sha256")


def describe(spec):
    """A short human description, e.g. ``norm: official VGGish, min-max``."""
    if spec["kind"] == "pca":
        return "pca: released features / 255"
    if spec["kind"] == "logmel":
        return "logmel: log-mel frames"
    sources = {"random": f"random VGGish (seed {spec['seed']})", "official": "official VGGish"}
    source = sources.get(spec["weights"], f"VGGish of {spec['weights']}")
    return f"{spec['kind']}: {source}" + (", min-max" if spec["postprocess"] == "minmax" else "")


# ---------------------------------------------------------------- the feature model

def embedding_model(spec, weights=None, variant=None):
    """The model from log-mel examples to frame features before post-processing.

    Input (batch, n, 96, 64); output (batch, n, 128) (a VGGish applied to
    each example) or, for logmel, (batch, n * 96, 64). ``weights`` and
    ``variant`` replace the spec's VGGish (see :func:`build_feature_model`).
    """

    examples = keras.Input((None, params.EXAMPLE_FRAMES, params.NUM_MEL_BINS), name="log_mel_examples")
    if spec["kind"] == "logmel":
        if weights is not None or variant is not None:
            raise FeatureError("the logmel feature set has no VGGish, so --weights and --variant do not apply; "
                               "leave them out")
        frames = keras.layers.Reshape((-1, params.NUM_MEL_BINS), name="log_mel_frames")(examples)
    else:
        frames = keras.layers.TimeDistributed(_backbone(spec, weights, variant), name="vggish_per_example")(examples)
    return keras.Model(examples, frames, name=f"embeddings_{spec['kind']}")


def build_feature_model(spec, weights=None, variant=None, pca_params=None):
    """The model from log-mel examples to the feature set's frame features.

    Parameters
    ----------
    spec : FeatureSpec
        With fitted statistics when its post-processing is "minmax".
    weights : str or None
        Replace the spec's VGGish with these weights (anything ``--weights``
        takes), e.g. ``random`` where the official checkpoint is not on
        disk. The features then differ from those the classifier was
        trained on: a :class:`ReplacedWeightsWarning` says so.
    variant : str or None
        Replace the spec's VGGish variant.
    pca_params : str or os.PathLike or None
        The PCA file of the pca feature set (default: the official one in
        the models folder).

    Returns
    -------
    keras.Model
        Input (batch, n, 96, 64) float32, output (batch, T, D) float32:
        T = n and D = 128 for VGGish features, T = 96 n and D = 64 for
        logmel. PCA and min-max normalisation are layers of the model
        (:class:`airtf.vggish.PCAQuantize`, :class:`airtf.vggish.MinMaxNormalize`).
    """
    embed = embedding_model(spec, weights, variant)
    frames = embed.output
    for layer in _postprocess_layers(spec, pca_params):
        frames = layer(frames)
    return keras.Model(embed.input, frames, name=f"features_{spec['kind']}")


def _backbone(spec, weights=None, variant=None):
    """The VGGish of a spec, its weights checked against the spec's sha256, or the one that replaces it."""
    if weights is not None or variant is not None:
        replaced = weights or spec["weights"]
        if replaced != spec["weights"] or (variant or spec["variant"]) != spec["variant"]:
            warnings.warn(f"the classifier was trained on features of {_weights_text(spec['weights'])} "
                          f"({spec['variant']}); these come from {_weights_text(replaced)} "
                          f"({variant or spec['variant']}), so its outputs differ from the trained model's",
                          ReplacedWeightsWarning, stacklevel=4)
        return weight_files.from_preset(replaced, variant or spec["variant"], spec["seed"] or 0)
    reference = spec["weights"]
    if reference not in ("official", "random"):
        if not Path(reference).is_file():
            raise FeatureError(f"{reference}: the weights of this feature set are gone; restore the file or "
                               "rerun with other --features")
        if weight_files.digest(reference, "sha256") != spec["weights_sha256"]:
            raise FeatureError(f"{reference}: the weights changed since this feature set was made (sha256 "
                               "differs); restore them, or rerun airtf-eval in a new --out")
    return weight_files.from_preset(reference, spec["variant"], spec["seed"] or 0)


def _weights_text(reference):
    return {"official": "the official VGGish", "random": "a random VGGish"}.get(str(reference), str(reference))


def _postprocess_layers(spec, pca_params=None):
    """The layers after the embedding model: PCA and / 255, min-max, or none."""
    if spec["postprocess"] == "pca":
        pca_file = pca_params or weight_files.official_pca_params()
        return [vggish.PCAQuantize.from_file(pca_file, name="pca_quantize"),
                keras.layers.Rescaling(1.0 / FEATURE_MAX, dtype="float32", name="to_unit_range")]
    if pca_params is not None:
        raise FeatureError(f"the {spec['kind']} feature set has no PCA, so --pca-params does not apply; leave it out")
    if spec["postprocess"] == "minmax":
        return [_minmax_layer(spec)]
    return []


def _minmax_layer(spec):
    statistics = spec["normalization"]
    if statistics is None:
        raise FeatureError(f"the {spec['kind']} feature set is not normalised yet; fit its statistics on the "
                           "training split with fit_normalization")
    layer = vggish.MinMaxNormalize(len(statistics["minimum"]), name="minmax")
    layer.minimum.assign(np.asarray(statistics["minimum"], np.float32))
    layer.maximum.assign(np.asarray(statistics["maximum"], np.float32))
    return layer


# ---------------------------------------------------------------- features of clips

def fit_normalization(openmic, train_keys, spec, cache_dir=None):
    """Fit a spec's min-max statistics on the training clips' embeddings.

    Returns
    -------
    FeatureSpec
        A copy holding ``normalization``; ``spec`` itself when the feature
        set is not normalised.
    """
    if spec["postprocess"] != "minmax":
        return spec
    embeddings = cached_embeddings(openmic, train_keys, spec, cache_dir)
    layer = vggish.MinMaxNormalize(embeddings.shape[-1]).adapt(embeddings)
    statistics = {"minimum": _floats(layer.minimum), "maximum": _floats(layer.maximum)}
    return FeatureSpec(**{**spec, "normalization": statistics})


def _floats(variable):
    return [float(value) for value in np.asarray(variable, np.float32)]


def compute_features(openmic, keys, spec, cache_dir=None):
    """Frame features of clips, computed once and cached (see the module docstring).

    Parameters
    ----------
    openmic : airtf.datasets.openmic.OpenMIC
    keys : sequence of str
        Sample keys.
    spec : FeatureSpec
        Normalised (:func:`fit_normalization`) when its kind is.
    cache_dir : str or Path or None
        Default :func:`default_cache_dir`.

    Returns
    -------
    np.ndarray
        float32 (len(keys), T, D).
    """
    keys = list(keys)
    if spec["kind"] == "pca":
        return _released_features(openmic, keys)
    if spec["kind"] == "logmel":
        return _log_mel_frames(openmic, keys, cache_dir)
    frames = cached_embeddings(openmic, keys, spec, cache_dir)
    for layer in _postprocess_layers(spec):
        frames = np.asarray(layer(frames), np.float32)
    return frames


def _released_features(openmic, keys):
    try:
        released = openmic.released_features(keys)
    except DatasetError as error:
        raise FeatureError(f"{error}; the pca feature set is the release's features (X in openmic-2018.npz "
                           "or vggish/*.json): fill them (airtf-data demo --weights) or choose other --features") \
            from None
    return released.astype(np.float32) / FEATURE_MAX


def _log_mel_frames(openmic, keys, cache_dir):
    frames = EXAMPLES_PER_CLIP * params.EXAMPLE_FRAMES
    if not keys:
        return np.zeros((0, frames, params.NUM_MEL_BINS), np.float32)
    dataset = openmic.log_mel(keys, resampler=RESAMPLER, cache_dir=_log_mel_cache(cache_dir))
    examples = [clip for clip, y_true, y_mask in dataset.as_numpy_iterator()]
    return np.stack(examples).reshape(len(keys), frames, params.NUM_MEL_BINS)


def _log_mel_cache(cache_dir):
    return Path(cache_dir or default_cache_dir()) / "log-mel"


def cached_embeddings(openmic, keys, spec, cache_dir=None):
    """A backbone's raw embeddings of clips, (len(keys), 10, 128) float32.

    Clips already in the cache are read back; the others go through
    :func:`embedding_model` in batches (with a progress bar on a terminal)
    and are written to the cache one clip at a time.
    """
    keys = list(keys)
    paths = [openmic.audio_path(key) for key in keys]
    absent = missing_files(paths)
    if absent:
        raise FeatureError(f"{absent[0]}: audio file not found ({len(absent)} of {len(keys)} clips); the "
                           f"{spec['kind']} features are computed from the audio: restore the clips or pass --limit")
    folder = feature_cache_folder(spec, cache_dir)
    files = [_clip_cache_file(folder, path) for path in paths]
    pending = [index for index, file in enumerate(files) if not file.is_file()]
    if pending:
        _embed_clips(openmic, [keys[index] for index in pending], [files[index] for index in pending], spec,
                     cache_dir)
    if not files:
        return np.zeros((0, EXAMPLES_PER_CLIP, params.EMBEDDING_SIZE), np.float32)
    return np.stack([np.load(file) for file in files])


def feature_cache_folder(spec, cache_dir=None):
    """The cache folder of a backbone's raw embeddings (see the module docstring).

    Made on first use, with an identity.json of what its hash covers.
    """

    random = spec["weights"] == "random"
    identity = {"format": CACHE_FORMAT, "weights_sha256": spec["weights_sha256"], "variant": spec["variant"],
                "random_seed": spec["seed"] if random else None, "keras": keras.__version__ if random else None,
                "frontend": spec["frontend"]}
    digest = _sha256(identity)
    label = f"random{spec['seed']}" if random else ("official" if spec["weights"] == "official"
                                                     else spec["weights_sha256"][:12])
    folder = Path(cache_dir or default_cache_dir()) / f"vggish-{label}-{spec['variant']}-{digest[:12]}"
    if not (folder / "identity.json").is_file():
        write_json(folder / "identity.json", identity)
    return folder


def _sha256(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _clip_cache_file(folder, audio_path):
    status = audio_path.stat()
    digest = _sha256({"path": str(audio_path.resolve()), "bytes": status.st_size, "mtime_ns": status.st_mtime_ns})
    return folder / digest[:2] / f"{digest}.npy"


def _embed_clips(openmic, keys, files, spec, cache_dir):
    """Run the embedding model over clips, writing each clip's embeddings to its cache file."""
    model = _extractor(json.dumps({**spec, "normalization": None}, sort_keys=True))
    dataset = openmic.log_mel(keys, resampler=RESAMPLER, cache_dir=_log_mel_cache(cache_dir))
    batches = dataset.map(lambda examples, y_true, y_mask: examples).batch(CLIPS_PER_BATCH)
    pending = iter(files)
    with tqdm(total=len(keys), desc=f"{spec['kind']} features", unit="clip", disable=None) as bar:
        for batch in batches:
            for embeddings in model.predict_on_batch(batch):
                _save_npy(next(pending), np.asarray(embeddings, np.float32))
            bar.update(len(batch))


@functools.lru_cache(maxsize=1)
def _extractor(raw_spec):
    """The embedding model of a spec (JSON, without statistics), kept for the next call.

    Train, validation and test features then come from one model (loaded
    once, traced once); only the last one is kept, so memory stays bounded.
    """
    return embedding_model(json.loads(raw_spec))


def _save_npy(path, array):
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as stream:
            np.save(stream, array)
