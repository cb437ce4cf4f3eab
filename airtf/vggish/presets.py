"""Presets and weights sources: the one place where a ``--weights`` value becomes a VGGish.

The official files (URL, size, sha256, md5) and the presets built from them
ship as package data (``presets.json``); the files themselves live in the
models folder (:func:`models_dir`), never inside the installed package.

``--weights`` (with ``--variant``) names a :class:`WeightsSource`:

``official`` (the default) or a preset name (``audioset-2017``, ``audioset-2020``)
    The official AudioSet weights in the models folder: the converted
    ``vggish_model.weights.h5`` if there, else ``vggish_model.ckpt``.
``random``
    A Glorot-initialised VGGish, seeded.
a ``.weights.h5`` file or a TF1 checkpoint (V1 file or V2 prefix)
    Those weights.
a pre-training run directory
    Its ``vggish.weights.h5``, in the variant its config.json names.

:func:`from_preset` builds the model; :meth:`WeightsSource.identity` is what
a feature cache keys on.
"""

import dataclasses
import json
import os
import shutil
from functools import lru_cache
from pathlib import Path

from airtf import params
from airtf.errors import CheckpointError, first_line, WeightsNotFoundError
from airtf.runs.layout import BACKBONE_NAME
from airtf.support.files import atomic_path, digest, display, models_dir

PRESETS_FILE = Path(__file__).with_name("presets.json")
CHECKPOINT_NAME = "vggish_model.ckpt"
PCA_NAME = "vggish_pca_params.npz"
CONVERTED_NAME = "vggish_model.weights.h5"
KEYWORDS = ("official", "random")


@lru_cache(maxsize=None)
def _presets_data():
    return json.loads(PRESETS_FILE.read_text())


def manifest():
    """File name -> {url, bytes, sha256, md5, description} of the official files."""
    return _presets_data()["files"]


def presets():
    """Preset name -> {description, weights, pca_params}; a preset's name is its VGGish variant."""
    return _presets_data()["presets"]


def verify(path, name=None):
    """Check a file's size, sha256 and md5 against the manifest (:func:`airtf.support.downloads.verify`).

    Parameters
    ----------
    path : path of the file.
    name : manifest entry to check against; by default the one whose size
        matches, else the one named like the file.

    Returns the manifest entry's name; raises CheckpointError on a mismatch.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found; check the path")
    entries = manifest()
    size = path.stat().st_size
    name = name or next((key for key, entry in entries.items() if entry["bytes"] == size), path.name)
    if name not in entries:
        raise CheckpointError(f"{path}: {size} bytes matches no official file ({', '.join(entries)}); "
                              "it is not an official VGGish file")
    from airtf.support import downloads

    official = downloads.PublishedFile.from_entry(entries[name])
    try:
        downloads.verify(path, official.bytes, official.checksums,
                         fix=f"download the official {name} again from {official.url}")
    except downloads.DownloadError as error:
        raise CheckpointError(str(error)) from None
    return name


UNVERIFIED_SUFFIX = ".unverified"
"""A downloaded official file waits under this name until its checksums are checked."""


def fetch(names=None, directory=None, source=None, timeout=30.0, progress=None, mirror=None):
    """Put verified official files into the models folder.

    Files already there and verified are kept. With ``source`` (a folder
    holding copies), files are copied from it; otherwise downloaded from the
    manifest's URLs, resuming a download an earlier run left unfinished
    (``NAME.unverified.partial``), from ``mirror`` (a base address) if given.
    Without network, the error says where to put the files.

    Returns a list of (name, path, action) with action in
    {"present", "copied", "downloaded", "resumed"}.
    """
    directory = Path(directory) if directory else models_dir()
    entries = manifest()
    done = []
    for name in names or list(entries):
        if name not in entries:
            raise CheckpointError(f"unknown official file {name!r}; choose {', '.join(entries)}, or musicnn "
                                  "(or a musicnn preset) for musicnn's checkpoints")
        target = directory / name
        if target.is_file() and _verifies(target, name):
            done.append((name, target, "present"))
            continue
        if source:
            with atomic_path(target) as temporary:
                _copy(Path(source) / name, temporary)
                verify(temporary, name)
            done.append((name, target, "copied"))
        else:
            done.append((name, target, _download(name, entries[name], target, timeout, progress, mirror)))
    return done


def _verifies(path, name):
    try:
        verify(path, name)
        return True
    except CheckpointError:
        return False


def _copy(source, temporary):
    if not source.is_file():
        raise WeightsNotFoundError(f"{source}: file not found; put the official {source.name} there "
                                   "or fetch without --from")
    shutil.copyfile(source, temporary)


def _download(name, entry, target, timeout, progress, mirror=None):
    """Download an official file as every airtf download goes (:func:`airtf.support.downloads.download`: resumed
    after an interruption), verify it, then move it to ``target``; "downloaded" or "resumed"."""
    from airtf.support import downloads

    unverified = target.with_name(target.name + UNVERIFIED_SUFFIX)
    target.parent.mkdir(parents=True, exist_ok=True)
    elsewhere = (f"download it on a machine with network and put it at {display(target)}, or run "
                 "`airtf-weights fetch --from DIR` with a folder holding it")
    try:
        official = downloads.PublishedFile.from_entry(entry)
        official = official.at(mirror) if mirror else official
        action = downloads.download(official.url, unverified, official.bytes, timeout, progress, elsewhere)
    except downloads.DownloadError as error:
        raise WeightsNotFoundError(str(error)) from None
    try:
        verify(unverified, name)
    except CheckpointError:
        unverified.unlink()
        raise
    os.replace(unverified, target)
    return action


def convert(checkpoint=None, out=None):
    """Convert an official TF1 checkpoint to a Keras ``.weights.h5``, a file to use where the checkpoint is not.

    Returns the path written.
    """
    from airtf.vggish import backbone, checkpoint as checkpoints

    checkpoint = Path(checkpoint) if checkpoint else models_dir() / CHECKPOINT_NAME
    out = Path(out) if out else models_dir() / CONVERTED_NAME
    if not out.name.endswith(".weights.h5"):
        raise ValueError(f"{out}: Keras weights files must end in .weights.h5")
    model = checkpoints.load_checkpoint(backbone.build_backbone(kernel_initializer="zeros"), checkpoint)
    with atomic_path(out) as temporary:
        model.save_weights(temporary)
    return out


def official_weights():
    """Path of the official weights on disk: the checkpoint (read through its converted copy,
    :mod:`airtf.vggish.converted`), else the file ``airtf-weights convert`` wrote."""
    for name in (CHECKPOINT_NAME, CONVERTED_NAME):
        if (models_dir() / name).is_file():
            return models_dir() / name
    raise WeightsNotFoundError(
        f"{display(models_dir() / CHECKPOINT_NAME)}: the official VGGish weights are not on disk; run "
        "`airtf-weights fetch` (needs network) or put vggish_model.ckpt there, "
        "or pass --weights random for a randomly initialised VGGish")


def official_pca_params():
    """Path of the official PCA parameters on disk."""
    path = models_dir() / PCA_NAME
    if not path.is_file():
        raise WeightsNotFoundError(
            f"{display(path)}: the official PCA parameters are not on disk; run `airtf-weights fetch` "
            "or pass --pca-params PATH/vggish_pca_params.npz")
    return path


def _run_variant(run_dir):
    """The VGGish variant a pre-training run directory's config.json names, or None."""
    config = Path(run_dir) / "config.json"
    try:
        recorded = json.loads(config.read_text()).get("variant") if config.is_file() else None
    except (OSError, ValueError, AttributeError):
        return None
    return recorded if recorded in params.VGGISH_VARIANTS else None


@dataclasses.dataclass(frozen=True)
class WeightsSource:
    """A VGGish's weights, as ``--weights`` and ``--variant`` name them (see the module docstring).

    Attributes
    ----------
    kind : {"official", "random", "file"}
    variant : str
        One of :data:`airtf.params.VGGISH_VARIANTS`.
    path : Path or None
        The weights file or checkpoint of a "file" source.
    seed : int
        The initialisation of a "random" source (and the random state that
        building any source leaves, which later initialisations draw from).
    """

    kind: str
    variant: str = params.DEFAULT_VARIANT
    path: Path = None
    seed: int = 0

    @classmethod
    def parse(cls, weights=None, variant=None, seed=0):
        """The source that ``weights`` names (None: official), in ``variant`` (None: its own or the default).

        Raises
        ------
        CheckpointError
            An unknown variant, a preset name with another variant, or a
            path that holds no weights.
        """
        if variant is not None and variant not in params.VGGISH_VARIANTS:
            raise CheckpointError(f"unknown VGGish variant {variant!r}; choose one of "
                                  f"{', '.join(params.VGGISH_VARIANTS)}")
        weights = "official" if weights is None else weights
        if isinstance(weights, WeightsSource):
            return weights
        if weights in presets():
            if variant not in (None, weights):
                raise CheckpointError(f"--weights {weights} is the {weights} variant; leave out --variant "
                                      f"{variant}, or pass --weights official --variant {variant}")
            return cls("official", weights, seed=seed)
        if weights in KEYWORDS:
            return cls(weights, variant or params.DEFAULT_VARIANT, seed=seed)
        path = Path(weights)
        if path.is_dir():
            inside = path / BACKBONE_NAME
            if not inside.is_file():
                raise CheckpointError(f"{path}: a directory without {BACKBONE_NAME}; pass a run directory "
                                      "written by airtf-pretrain, a .weights.h5 file or a checkpoint")
            return cls("file", variant or _run_variant(path) or params.DEFAULT_VARIANT, inside.resolve(), seed)
        if not path.exists() and not Path(f"{path}.index").exists():
            raise CheckpointError(f"{path}: weights not found; pass 'official', 'random', a preset "
                                  f"({', '.join(presets())}), a .weights.h5 file, a checkpoint or a run directory")
        return cls("file", variant or params.DEFAULT_VARIANT, path.resolve(), seed)

    @property
    def reference(self):
        """"official", "random", or the absolute path of the weights file, as run configs keep it."""
        return str(self.path) if self.kind == "file" else self.kind

    def describe(self):
        """E.g. "the official VGGish (audioset-2017)", "a random VGGish (seed 3)"."""
        if self.kind == "random":
            return f"a random VGGish (seed {self.seed}, {self.variant})"
        if self.kind == "official":
            return f"the official VGGish ({self.variant})"
        return f"the VGGish of {self.path} ({self.variant})"

    def file(self):
        """The weights file to load (None for random); the official one must be on disk."""
        if self.kind == "official":
            return official_weights()
        return self.path

    def identity(self):
        """What the weights' values depend on: a JSON-ready dict for cache keys and run configs.

        ``weights`` (the :attr:`reference`), ``sha256`` of the file (the
        manifest's for official weights, which need not be on disk),
        ``variant`` and, for random weights, ``seed``.
        """
        if self.kind == "official":
            sha256 = manifest()[CHECKPOINT_NAME]["sha256"]
        elif self.kind == "file":
            if not self.path.is_file():
                raise CheckpointError(f"{self.path}: not a weights file; pass a .weights.h5 file or a run "
                                      f"directory holding {BACKBONE_NAME}")
            sha256 = digest(self.path, "sha256")
        else:
            sha256 = None
        identity = {"weights": self.reference, "sha256": sha256, "variant": self.variant}
        return {**identity, "seed": self.seed} if self.kind == "random" else identity

    def load(self):
        """A VGGish backbone holding these weights (see :func:`from_preset`)."""
        import keras
        import numpy as np

        from airtf.vggish import backbone, converted

        source = self.file()
        keras.utils.set_random_seed(self.seed)
        if source is None:
            return backbone.build_backbone(self.variant)
        model = backbone.build_backbone(self.variant, kernel_initializer="zeros")
        if str(source).endswith(".h5"):
            fix = "pass weights written by airtf (airtf-weights convert, airtf-pretrain)"
            try:
                model.load_weights(source)
            except Exception as error:
                raise CheckpointError(f"{source}: cannot load as VGGish weights ({first_line(error)}); {fix}") from None
            # Keras only warns about what it skipped; a kernel still all zeros (its initial value) was not loaded
            skipped = [variable.path for variable in model.weights if "kernel" in variable.path and
                       not np.any(keras.ops.convert_to_numpy(variable))]
            if skipped:
                raise CheckpointError(f"{source}: cannot load as VGGish weights (it holds no values for "
                                      f"{', '.join(skipped)}); {fix}")
            return model
        return converted.load(model, source)


def from_preset(weights="official", variant=None, seed=0):
    """A VGGish backbone from a preset, a weights file or a run directory.

    Parameters
    ----------
    weights : str, os.PathLike or WeightsSource
        ``official``, a preset name (``audioset-2017``, ``audioset-2020``),
        ``random``, a ``.weights.h5`` file, a TF1 checkpoint or a
        pre-training run directory (see the module docstring).
    variant : str or None
        The VGGish variant; default: the preset's, the run's, else
        ``audioset-2017``.
    seed : int
        Initialisation of a random VGGish.

    Returns
    -------
    keras.Model
        (batch, 96, 64) log-mel examples -> (batch, 128) embeddings.

    Raises
    ------
    CheckpointError, WeightsNotFoundError
        The weights are not found, not on disk (official), or do not fit.
    """
    return WeightsSource.parse(weights, variant, seed).load()
