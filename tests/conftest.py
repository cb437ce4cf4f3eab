"""Shared fixtures: the real reference files in ../shared/data."""

import gc
import os
import sys
import threading
from pathlib import Path

import pytest

from local_server import Server

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


HEAVY_MODULES = ("test_objectives.py", "test_pretrain.py", "test_textual.py", "test_denoising.py", "test_align.py",
                 "test_vggish.py", "test_weights.py", "test_tensorboard.py")
"""Modules that train or load whole VGGish models in this process, run first: memory that TensorFlow
keeps per distinct model accumulates over the suite, so their peaks come before it has grown."""


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.path.name not in HEAVY_MODULES)  # stable: the order within stays


@pytest.fixture(scope="session")
def shared_data():
    """../shared/data beside the repository (skips where it is absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent: the real reference files live there")
    return SHARED_DATA


@pytest.fixture(scope="session")
def openmic_clip(shared_data):
    """The real OpenMIC-2018 clip: 10 s, OGG Vorbis, 44.1 kHz stereo."""
    return shared_data / "openmic" / "audio" / "000" / "000046_3840.ogg"


WHEEL_NAME = "musicnn-0.1.0-py3-none-any.whl"


@pytest.fixture(scope="session")
def musicnn_wheel():
    """musicnn's published wheel, downloaded by scripts/test into the environment's wheels/ folder."""
    wheel = Path(sys.prefix) / "wheels" / WHEEL_NAME
    if not wheel.is_file():
        pytest.skip(f"{wheel} is absent: scripts/test downloads musicnn's wheel there")
    return wheel


@pytest.fixture
def fetched(musicnn_wheel):
    """musicnn's checkpoints fetched into the test's models folder."""
    from airtf import musicnn

    return musicnn.fetch(source=musicnn_wheel)


@pytest.fixture(autouse=True)
def isolated_models_and_cache(tmp_path_factory, monkeypatch):
    """Each test sees an empty models folder and feature cache, not the developer's."""
    monkeypatch.setenv("AIRTF_MODELS", str(tmp_path_factory.mktemp("models")))
    monkeypatch.setenv("AIRTF_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def official_pca(shared_data):
    """The official PCA parameters installed (verified) into the test's models folder."""
    from airtf.vggish import presets as weights

    weights.fetch(["vggish_pca_params.npz"], source=shared_data / "vggish")
    return weights.official_pca_params()


@pytest.fixture(scope="session")
def nsynth_dir(tmp_path_factory):
    """A demo NSynth: 20 instruments, 16 of them (128 notes) in train and 2 (16 notes) in valid."""
    from airtf.demo import sets as demo

    out = tmp_path_factory.mktemp("demo")
    demo.render_demo(out, sets=("nsynth",), sizes={"nsynth": 160})
    return out / "nsynth"


@pytest.fixture(scope="session")
def freesound_dir(tmp_path_factory):
    """A demo Freesound set of 40 tagged clips."""
    from airtf.demo import sets as demo

    out = tmp_path_factory.mktemp("demo")
    demo.render_demo(out, sets=("freesound",), sizes={"freesound": 40})
    return out / "freesound"


@pytest.fixture(autouse=True)
def released_models():
    """Free the models a test trained when it ends, so that the suite's memory stays flat.

    Keras's optimiser sums gradients with tf.distribute's all_reduce, whose graph-mode
    custom gradient TensorFlow registers globally and never removes (tensorflow#80895):
    each traced training step keeps its graph, and through it every weight of its
    model, alive for the life of the process (about 1 GB per VGGish trained).
    Dropping the entries a test added releases them; the steps are already traced.
    """
    from tensorflow.python.framework import ops

    registry = ops._gradient_registry._registry
    before = set(registry)
    yield
    stale = [name for name in set(registry) - before if name.startswith("CustomGradient-")]
    for name in stale:
        del registry[name]
    if stale:
        gc.collect()


@pytest.fixture(autouse=True, scope="module")
def released_module_models():
    """Free what a test module loaded when it ends: the models and word vectors airtf keeps for
    the next call, and Keras models in reference cycles (which Python's collector reaches rarely)."""
    yield
    import keras

    from airtf import api
    from airtf.features import feature_sets
    from airtf.pretrain import wordvectors

    for cache in (api._extractor, feature_sets._embedding_extractor, wordvectors._load_cached):
        cache.cache_clear()
    keras.backend.clear_session()
    gc.collect()


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1 (:class:`local_server.Server`), shut down after the test."""
    server = Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
