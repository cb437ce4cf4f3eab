"""airtf.hear against the HEAR 2021 API's rules: shapes, dtypes, sizes, centred monotonic timestamps."""

import numpy as np
import pytest
import tensorflow as tf

from airtf import hear


def sounds(count=3, seconds=4.0, seed=0):
    rng = np.random.default_rng(seed)
    return (0.3 * rng.standard_normal((count, int(seconds * 16000)))).astype(np.float32)


@pytest.fixture(scope="module")
def vggish():
    return hear.load_model("random")


def test_timestamp_and_scene_embeddings_follow_the_api(vggish):
    audio = sounds()
    embeddings, timestamps = hear.get_timestamp_embeddings(tf.constant(audio), vggish)
    assert vggish.sample_rate == 16000 and vggish.timestamp_embedding_size == vggish.scene_embedding_size == 128
    count = 1 + (4 * 16000 - 15600) // 15360
    assert embeddings.shape == (3, count, 128) and embeddings.dtype == tf.float32
    assert timestamps.shape == (3, count) and timestamps.dtype == tf.float32
    stamps = timestamps.numpy()[0]
    assert np.all(np.diff(stamps) > 0) and np.all(timestamps.numpy() == stamps)
    np.testing.assert_allclose(stamps, (np.arange(count) * 15360 + 15600 / 2) / 16.0)  # example centres in ms
    scene = hear.get_scene_embeddings(audio, vggish)
    assert scene.shape == (3, 128) and scene.dtype == tf.float32
    np.testing.assert_allclose(scene.numpy(), embeddings.numpy().mean(axis=1), rtol=1e-6)
    alone, _ = hear.get_timestamp_embeddings(audio[1:2], vggish)  # a sound's embeddings do not depend on the batch
    np.testing.assert_allclose(alone.numpy()[0], embeddings.numpy()[1], rtol=0, atol=1e-5)


def test_a_sound_shorter_than_one_example_still_has_one(vggish):
    embeddings, timestamps = hear.get_timestamp_embeddings(sounds(2, 0.3), vggish)
    assert embeddings.shape == (2, 1, 128) and timestamps.numpy().tolist() == [[487.5], [487.5]]


def test_musicnn_timestamps_are_the_centres_of_its_patches(fetched):
    model = hear.load_model("musicnn-mtt", hop=1.504)
    embeddings, timestamps = hear.get_timestamp_embeddings(sounds(2, 7.0), model)
    assert model.timestamp_embedding_size == 753 and embeddings.shape[2] == 753
    np.testing.assert_allclose(timestamps.numpy()[0], (np.arange(embeddings.shape[1]) * 94 * 256 - 256 + 48128 / 2)
                               / 16.0)


def test_wrong_input_is_refused(vggish, fetched):
    with pytest.raises(ValueError, match=r"audio must be \(n_sounds, n_samples\)"):
        hear.get_scene_embeddings(np.zeros(16000, np.float32), vggish)
    with pytest.raises(ValueError, match="HEAR needs a vector per example"):
        hear.load_model("musicnn-mtt", layer="timbral")
