"""The Keras VGGish against a TF1 graph with the official variable names,
and the post-processing layers against the official numpy formulas."""

import keras
import numpy as np
import pytest

import tf1_vggish
from airtf import vggish
from airtf.vggish import checkpoint as checkpoints
from airtf.errors import CheckpointError

OFFICIAL_LAYERS = ["conv1", "pool1", "conv2", "pool2", "conv3_1", "conv3_2", "pool3",
                   "conv4_1", "conv4_2", "pool4", "fc1_1", "fc1_2", "fc2"]


@pytest.fixture(scope="module")
def examples():
    return np.random.default_rng(7).normal(0.0, 2.0, (3, 96, 64)).astype(np.float32)


@pytest.fixture(scope="module", params=["V1", "V2"])
def checkpoint(request, tmp_path_factory, examples):
    path = tmp_path_factory.mktemp(request.param) / "vggish_model.ckpt"
    expected = tf1_vggish.write_checkpoint(path, examples, version=request.param)
    return path, expected


def test_backbone_has_official_structure():
    model = vggish.build_backbone()
    assert model.count_params() == 72_141_184
    names = [layer.name for layer in model.layers]
    assert [name for name in names if name in OFFICIAL_LAYERS] == OFFICIAL_LAYERS
    assert model.get_layer("flatten").output.shape[-1] == 12288
    assert model.output.shape[-1] == 128


@pytest.mark.slow
def test_checkpoint_has_its_formats_layout(checkpoint):
    """V1 (the official release): one file of 288 MB; V2: an index beside one data shard, nothing at the path."""
    path, _ = checkpoint
    if path.parent.name.startswith("V1"):
        assert path.is_file() and path.stat().st_size > 280e6
    else:
        shard = path.with_name(path.name + ".data-00000-of-00001")
        assert not path.exists() and path.with_name(path.name + ".index").is_file()
        assert shard.is_file() and shard.stat().st_size > 280e6


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["audioset-2017", "audioset-2020"])
def test_checkpoint_round_trip_matches_tf1_graph(checkpoint, examples, variant):
    path, expected = checkpoint
    model = checkpoints.load_checkpoint(vggish.build_backbone(variant), path)
    embeddings = model.predict(examples, verbose=0)
    np.testing.assert_allclose(embeddings, expected[variant], rtol=1e-5, atol=1e-4)


@pytest.mark.slow
def test_variants_differ_only_by_fc2_relu(checkpoint, examples):
    path, expected = checkpoint
    linear = expected["audioset-2020"]
    assert (linear < 0).any(), "the test needs negative fc2 outputs to tell the variants apart"
    relu = checkpoints.load_checkpoint(vggish.build_backbone("audioset-2017"), path).predict(examples, verbose=0)
    assert (relu >= 0).all() and not np.allclose(relu, linear, atol=1e-3)


def test_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="audioset-2017"):
        vggish.build_backbone("audioset-2019")


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(CheckpointError, match="nothing.ckpt.*airtf-weights fetch"):
        checkpoints.read_checkpoint(tmp_path / "nothing.ckpt")


def test_garbage_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "vggish_model.ckpt"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CheckpointError, match="vggish_model.ckpt: not a TensorFlow checkpoint"):
        checkpoints.read_checkpoint(path)


@pytest.mark.parametrize("version", ["V1", "V2"])
def test_missing_variable_is_named(tmp_path, version):
    path = tmp_path / "partial.ckpt"
    tf1_vggish.write_variables(path, {"vggish/conv1/weights": np.zeros((3, 3, 1, 64), np.float32),
                                      "vggish/conv1/biases": np.zeros(64, np.float32)}, version)
    with pytest.raises(CheckpointError, match="vggish/conv2/weights is missing"):
        checkpoints.read_checkpoint(path)


def test_wrong_shape_is_named(tmp_path):
    arrays = {f"{scope}/{kind}": np.zeros(1, np.float32)
              for scope in checkpoints.CHECKPOINT_SCOPES.values() for kind in ("weights", "biases")}
    arrays["vggish/conv1/weights"] = np.zeros((3, 3, 1, 64), np.float32)
    arrays["vggish/conv1/biases"] = np.zeros(64, np.float32)
    path = tmp_path / "shapes.ckpt"
    tf1_vggish.write_variables(path, arrays, "V2")
    with pytest.raises(CheckpointError, match=r"vggish/conv2/weights has shape \[1\], VGGish needs \[3, 3, 64, 128\]"):
        checkpoints.load_checkpoint(vggish.build_backbone(), path)


def test_pca_layer_equals_official_postprocess(shared_data):
    pca_file = shared_data / "vggish" / "vggish_pca_params.npz"
    means, eigen_vectors = vggish.load_pca_params(pca_file)
    # embeddings spread around the PCA means, so that every clipping case occurs
    embeddings = (means + np.random.default_rng(3).normal(0.0, 0.6, (500, 128))).astype(np.float32)
    expected = tf1_vggish.official_postprocess(embeddings, means, eigen_vectors)
    assert 0 < (expected == 0).mean() < 0.5 and 0 < (expected == 255).mean() < 0.5
    layer = vggish.PCAQuantize.from_file(pca_file)
    got = keras.ops.convert_to_numpy(layer(embeddings))
    np.testing.assert_array_equal(got.astype(np.uint8), expected)
    assert got.min() >= 0 and got.max() <= 255


def test_pca_layer_survives_saving(shared_data, tmp_path):
    layer = vggish.PCAQuantize.from_file(shared_data / "vggish" / "vggish_pca_params.npz")
    inputs = keras.Input((128,))
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "pca.keras")
    reloaded = keras.saving.load_model(tmp_path / "pca.keras")
    embeddings = np.random.default_rng(0).normal(0.0, 0.5, (4, 128)).astype(np.float32)
    np.testing.assert_array_equal(reloaded.predict(embeddings, verbose=0), model.predict(embeddings, verbose=0))


@pytest.mark.parametrize("arrays, message", [
    ({"pca_means": np.zeros(128)}, "'pca_eigen_vectors' is missing"),
    ({"pca_means": np.zeros(64), "pca_eigen_vectors": np.eye(128)}, r"'pca_means' has shape \[64\]"),
])
def test_bad_pca_file_is_named(tmp_path, arrays, message):
    path = tmp_path / "pca.npz"
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match=f"pca.npz: array {message}"):
        vggish.load_pca_params(path)


def test_min_max_normalize_fits_training_range():
    rng = np.random.default_rng(0)
    train = rng.normal(3.0, 2.0, (200, 128)).astype(np.float32)
    train[:, 5] = 1.5  # a constant dimension
    layer = vggish.MinMaxNormalize().adapt(train)
    scaled = keras.ops.convert_to_numpy(layer(train))
    np.testing.assert_allclose(scaled.min(0)[:5], 0.0, atol=1e-6)
    np.testing.assert_allclose(scaled.max(0)[:5], 1.0, atol=1e-6)
    assert np.all(scaled[:, 5] == 0.0)
    outside = keras.ops.convert_to_numpy(vggish.MinMaxNormalize(clip=True).adapt(train)(train * 3.0))
    assert outside.min() >= 0.0 and outside.max() <= 1.0
