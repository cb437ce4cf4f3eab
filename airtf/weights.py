"""The official weight files: where they live, fetching, verifying, converting,
and loading a backbone from whatever ``--weights`` names.

``--weights`` takes ``official`` (the converted ``.weights.h5`` or the
checkpoint in the models folder), ``random`` (a Glorot-initialised VGGish), a
``.weights.h5`` file, a TF1 checkpoint, or a run directory holding
``vggish.weights.h5``.
"""

import hashlib
import json
import os
import shutil
import urllib.error
import urllib.request
import warnings
from pathlib import Path

from airtf.errors import CheckpointError, WeightsNotFoundError
from airtf.files import atomic_path

REPOSITORY = Path(__file__).resolve().parents[1]
MANIFEST = REPOSITORY / "models" / "manifest.json"
CHECKPOINT_NAME = "vggish_model.ckpt"
PCA_NAME = "vggish_pca_params.npz"
CONVERTED_NAME = "vggish_model.weights.h5"
RUN_WEIGHTS_NAME = "vggish.weights.h5"


def models_dir():
    """Folder of the official files: $AIRTF_MODELS, else models/ in the checkout."""
    return Path(os.environ.get("AIRTF_MODELS", REPOSITORY / "models"))


def manifest():
    """File name -> {url, bytes, sha256, md5, description} of the official files."""
    return json.loads(MANIFEST.read_text())


def digest(path, algorithm):
    """Hex digest of a file, read in 1 MiB chunks."""
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def verify(path, name=None):
    """Check a file's size, sha256 and md5 against the manifest.

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
    entry = entries[name]
    if size != entry["bytes"]:
        raise CheckpointError(f"{path}: {size} bytes, the official {name} has {entry['bytes']}; "
                              f"the file is truncated or different: download it again from {entry['url']}")
    for algorithm in ("sha256", "md5"):
        if digest(path, algorithm) != entry[algorithm]:
            raise CheckpointError(f"{path}: {algorithm} differs from the official {name}; "
                                  f"the file is corrupt: download it again from {entry['url']}")
    return name


def fetch(names=None, directory=None, source=None, timeout=30.0, progress=None):
    """Put verified official files into the models folder.

    Files already there and verified are kept. With ``source`` (a folder
    holding copies), files are copied from it; otherwise downloaded from the
    manifest's URLs. Without network, the error says where to put the files.

    Returns a list of (name, path, action) with action in
    {"present", "copied", "downloaded"}.
    """
    directory = Path(directory) if directory else models_dir()
    entries = manifest()
    done = []
    for name in names or list(entries):
        if name not in entries:
            raise ValueError(f"unknown official file {name!r}; choose from {sorted(entries)}")
        target = directory / name
        if target.is_file() and _verifies(target, name):
            done.append((name, target, "present"))
            continue
        with atomic_path(target) as temporary:
            if source:
                _copy(Path(source) / name, temporary)
                action = "copied"
            else:
                _download(entries[name]["url"], temporary, target, timeout, progress)
                action = "downloaded"
            verify(temporary, name)
        done.append((name, target, action))
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


def _download(url, temporary, target, timeout, progress):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(temporary, "wb") as stream:
            total = int(response.headers.get("Content-Length") or 0)
            for chunk in iter(lambda: response.read(1 << 20), b""):
                stream.write(chunk)
                if progress:
                    progress(len(chunk), total)
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise WeightsNotFoundError(
            f"{url}: cannot download ({reason}); download it on a machine with network and put it at "
            f"{target}, or run `airtf-weights fetch --from DIR` with a folder holding it") from None


def convert(checkpoint=None, out=None):
    """Convert an official TF1 checkpoint to a Keras ``.weights.h5`` (loads faster).

    Returns the path written.
    """
    from airtf import vggish

    checkpoint = Path(checkpoint) if checkpoint else models_dir() / CHECKPOINT_NAME
    out = Path(out) if out else models_dir() / CONVERTED_NAME
    if not out.name.endswith(".weights.h5"):
        raise ValueError(f"{out}: Keras weights files must end in .weights.h5")
    model = vggish.load_checkpoint(vggish.build_vggish(), checkpoint)
    with atomic_path(out) as temporary:
        model.save_weights(temporary)
    return out


def official_weights():
    """Path of the official weights on disk: the converted file, else the checkpoint."""
    for name in (CONVERTED_NAME, CHECKPOINT_NAME):
        if (models_dir() / name).is_file():
            return models_dir() / name
    raise WeightsNotFoundError(
        f"{models_dir() / CHECKPOINT_NAME}: the official VGGish weights are not on disk; run "
        "`airtf-weights fetch` (needs network) or put vggish_model.ckpt there, "
        "or pass --weights random for a randomly initialised VGGish")


def official_pca_params():
    """Path of the official PCA parameters on disk."""
    path = models_dir() / PCA_NAME
    if not path.is_file():
        raise WeightsNotFoundError(
            f"{path}: the official PCA parameters are not on disk; run `airtf-weights fetch` "
            "or pass --pca-params PATH/vggish_pca_params.npz")
    return path


def resolve(weights):
    """The file that ``--weights`` names, or "random"."""
    if weights in (None, "official"):
        return official_weights()
    if weights == "random":
        return "random"
    path = Path(weights)
    if path.is_dir():
        inside = path / RUN_WEIGHTS_NAME
        if not inside.is_file():
            raise CheckpointError(f"{path}: a directory without {RUN_WEIGHTS_NAME}; pass a run directory "
                                  "written by airtf-pretrain, a .weights.h5 file or a checkpoint")
        return inside
    if not path.exists() and not Path(f"{path}.index").exists():
        raise CheckpointError(f"{path}: weights not found; pass 'official', 'random', a .weights.h5 file, "
                              "a checkpoint or a run directory")
    return path


def load_backbone(weights=None, variant=None, seed=0):
    """Build a VGGish and load the weights that ``weights`` names (see :func:`resolve`).

    ``seed`` fixes the initialisation of ``random``.
    """
    import keras

    from airtf import vggish

    variant = variant or vggish.DEFAULT_VARIANT
    source = resolve(weights)
    keras.utils.set_random_seed(seed)
    model = vggish.build_vggish(variant)
    if source == "random":
        return model
    if str(source).endswith(".h5"):
        try:
            with warnings.catch_warnings():  # Keras only warns about layers it skipped
                warnings.simplefilter("error")
                model.load_weights(source)
        except Exception as error:
            raise CheckpointError(f"{source}: cannot load as VGGish weights ({error}); pass weights written by "
                                  "airtf (airtf-weights convert, airtf-pretrain)") from None
        return model
    return vggish.load_checkpoint(model, source)
