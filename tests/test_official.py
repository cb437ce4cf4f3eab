"""The official numbers, where the official checkpoint is on this machine (skipped, with the reason, where not).

The checkpoint cannot be downloaded here; a user who has it (``airtf-weights
fetch``, or vggish_model.ckpt in the models folder) runs these to see that
airtf gives the official AudioSet VGGish's numbers with it.
"""

import json

import numpy as np
import pytest

import airtf
from airtf.errors import CheckpointError
from airtf.vggish import presets

SMOKE_SECONDS, SMOKE_HZ, SMOKE_RATE = 3, 1000, 16000
"""The official smoke test's signal: a 1 kHz sine, 3 s at 16 kHz (vggish_smoke_test.py)."""
SMOKE_EMBEDDING = (0.000657, 0.343)
SMOKE_POSTPROCESSED = (126.0, 89.3)
"""Mean and standard deviation the official smoke test expects (within 10 %) of the 2020 checkpoint's outputs."""
SMOKE_TOLERANCE = 0.1


@pytest.fixture(scope="module")
def official_checkpoint():
    path = presets.models_dir() / presets.CHECKPOINT_NAME
    if not path.is_file():
        pytest.skip(f"the official {presets.CHECKPOINT_NAME} is not in {presets.models_dir()} "
                    "(airtf-weights fetch puts it there; it cannot be downloaded on this machine)")
    try:
        presets.verify(path, presets.CHECKPOINT_NAME)
    except CheckpointError as error:
        pytest.skip(f"{path} is not the official checkpoint ({error})")
    return path


def test_smoke_test_statistics_of_audioset_2020(official_checkpoint, shared_data):
    signal = np.sin(2 * np.pi * SMOKE_HZ * np.arange(0, SMOKE_SECONDS, 1 / SMOKE_RATE))
    embedding, _ = airtf.embed(signal.astype(np.float32), SMOKE_RATE, output="embedding",
                               weights=str(official_checkpoint), variant="audioset-2020")
    postprocessed, _ = airtf.embed(signal.astype(np.float32), SMOKE_RATE, output="pca",
                                   weights=str(official_checkpoint), variant="audioset-2020",
                                   pca_params=shared_data / "vggish" / "vggish_pca_params.npz")
    assert embedding.shape == (SMOKE_SECONDS, 128)
    np.testing.assert_allclose([embedding.mean(), embedding.std()], SMOKE_EMBEDDING, rtol=SMOKE_TOLERANCE)
    np.testing.assert_allclose([postprocessed.mean(), postprocessed.std()], SMOKE_POSTPROCESSED,
                               rtol=SMOKE_TOLERANCE)


def test_pca_features_of_the_real_clip_are_the_released_ones(official_checkpoint, openmic_clip, shared_data):
    """OpenMIC-2018's features were computed with the 2017 checkpoint (ReLU after fc2)."""
    released = json.loads((shared_data / "openmic" / "vggish" / "000" / f"{openmic_clip.stem}.json").read_text())
    features, time_points = airtf.embed(openmic_clip, output="pca", weights=str(official_checkpoint),
                                        variant="audioset-2017",
                                        pca_params=shared_data / "vggish" / "vggish_pca_params.npz")
    assert time_points == released["time_points"]
    difference = np.abs(features.astype(int) - np.asarray(released["features"], dtype=int))
    assert difference.max() <= 1 and (difference == 0).mean() > 0.99  # at most a rounding step, and rarely
