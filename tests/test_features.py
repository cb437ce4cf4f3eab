"""Feature sets for stage two: shapes, normalisation on the training split, the feature model, the cache."""

import inspect
import json

import numpy as np
import pytest

from airtf import vggish
from airtf.datasets.openmic import OpenMIC
from airtf.demo import sets as demo
from airtf.errors import WeightsNotFoundError
from airtf.features import feature_sets
from airtf.runs import layout
from airtf.support.files import write_json, write_npz
from airtf.vggish import presets as weights

CLIPS = 10


@pytest.fixture(scope="module")
def openmic(tmp_path_factory):
    """A demo OpenMIC of real instrument audio (no released features)."""
    folder = tmp_path_factory.mktemp("demo") / "openmic"
    demo.render_openmic(folder, clips=CLIPS, seed=7)
    return OpenMIC(folder)


@pytest.fixture(scope="module")
def split(openmic):
    return openmic.draw_split()


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A pre-training run directory holding the weights of a random VGGish (seed 5)."""
    run_dir = tmp_path_factory.mktemp("pretrain")
    vggish.from_preset("random", seed=5).save_weights(run_dir / layout.BACKBONE_NAME)
    return run_dir


def synthetic_release(root, count=6):
    """Class map, partitions and an npz with X: what the pca feature set reads."""
    rng = np.random.default_rng(0)
    keys = [f"{index:06d}_0" for index in range(count)]
    write_json(root / "class-map.json", {name: index for index, name in enumerate(demo.OPENMIC_CLASSES)})
    (root / "partitions").mkdir()
    (root / "partitions" / "split01_train.csv").write_text("\n".join(keys[:4]) + "\n")
    (root / "partitions" / "split01_test.csv").write_text("\n".join(keys[4:]) + "\n")
    x = rng.integers(0, 256, (count, 10, 128), dtype=np.uint8)
    write_npz(root / "openmic-2018.npz", X=x, Y_true=rng.random((count, 20)), Y_mask=rng.random((count, 20)) < 0.5,
              sample_key=np.array(keys))
    return OpenMIC(root), keys, x


def log_mel(openmic, keys, cache):
    return np.stack([examples for examples, _, _ in
                     openmic.log_mel(keys, cache_dir=cache / "log-mel").as_numpy_iterator()])


def test_pca_is_the_released_x_over_255(tmp_path):
    dataset, keys, x = synthetic_release(tmp_path)
    feature_set = feature_sets.parse("pca")
    spec = feature_set.spec
    assert (spec["kind"], spec["postprocess"], spec["weights"]) == ("pca", "pca", "official")
    assert spec["weights_sha256"] == weights.manifest()[weights.CHECKPOINT_NAME]["sha256"]
    pca = feature_set.compute(dataset, keys[1:3], tmp_path / "cache")
    assert pca.shape == (2, 10, 128) and pca.dtype == np.float32
    np.testing.assert_allclose(pca, x[1:3] / 255.0, rtol=1e-6)


@pytest.mark.slow
def test_random_features_are_raw_seeded_embeddings(openmic, split, cache):
    spec = feature_sets.parse("random", seed=3)
    assert spec.spec["postprocess"] is None and spec.spec["weights_sha256"] is None
    random = spec.compute(openmic, split.train[:3], cache)
    assert random.shape == (3, 10, 128) and random.dtype == np.float32
    examples = log_mel(openmic, split.train[:3], cache).reshape(-1, 96, 64)
    expected = vggish.from_preset("random", seed=3).predict(examples, verbose=0)
    np.testing.assert_allclose(random.reshape(-1, 128), expected, atol=1e-5)
    assert random.min() >= 0 and random.max() < 1  # ReLU'd, not normalised: a random VGGish gives small values
    other = feature_sets.parse("random", seed=4)
    assert other.cache_folder(cache) != spec.cache_folder(cache)


def test_norm_is_fitted_on_the_training_split_only(openmic, split, cache):
    spec = feature_sets.parse("norm", weights="random", seed=3)
    with pytest.raises(feature_sets.FeatureError, match="not normalised yet"):
        spec.model()
    fitted = spec.fitted(openmic, split.train, cache)
    raw_train = feature_sets.cached_embeddings(openmic, split.train, spec, cache)
    np.testing.assert_array_equal(fitted.spec["normalization"]["minimum"], raw_train.min(axis=(0, 1)))
    np.testing.assert_array_equal(fitted.spec["normalization"]["maximum"], raw_train.max(axis=(0, 1)))
    train = fitted.compute(openmic, split.train, cache)
    assert train.shape == (len(split.train), 10, 128)
    varying = raw_train.max(axis=(0, 1)) > raw_train.min(axis=(0, 1))
    np.testing.assert_allclose(train.min(axis=(0, 1))[varying], 0, atol=1e-6)
    np.testing.assert_allclose(train.max(axis=(0, 1))[varying], 1, atol=1e-6)
    raw_test = feature_sets.cached_embeddings(openmic, split.test, spec, cache)
    test = fitted.compute(openmic, split.test, cache)
    span = np.where(varying, raw_train.max(axis=(0, 1)) - raw_train.min(axis=(0, 1)), 1)
    np.testing.assert_allclose(test, (raw_test - raw_train.min(axis=(0, 1))) / span, rtol=1e-4, atol=1e-5)
    assert test.min() < 0 or test.max() > 1  # the test clips fall outside the training range somewhere


def test_logmel_features_are_the_frames(openmic, split, cache):
    frames = feature_sets.parse("logmel").compute(openmic, split.test[:2], cache)
    assert frames.shape == (2, 960, 64) and frames.dtype == np.float32
    np.testing.assert_array_equal(frames, log_mel(openmic, split.test[:2], cache).reshape(2, 960, 64))


def test_a_second_call_reads_the_cache(openmic, split, cache, monkeypatch):
    spec = feature_sets.parse("random", seed=11)
    first = spec.compute(openmic, split.test, cache)
    folder = spec.cache_folder(cache)
    assert len(list(folder.rglob("*.npy"))) == len(split.test)
    assert json.loads((folder / "identity.json").read_text())["frontend"] == spec.spec["frontend"]

    def fail(*args):
        raise AssertionError("the model ran although the features were cached")

    monkeypatch.setattr(feature_sets.BackboneFeatures, "extractor", fail)
    monkeypatch.setattr(feature_sets.FeatureSet, "model", fail)
    np.testing.assert_array_equal(spec.compute(openmic, split.test, cache), first)
    np.testing.assert_array_equal(spec.compute(openmic, split.test[1:], cache), first[1:])


@pytest.mark.slow
def test_pretrained_run_dir_gives_its_vggish_normalised(openmic, split, cache, pretrained):
    feature_set = feature_sets.parse(str(pretrained))
    spec = feature_set.spec
    assert spec["kind"] == "pretrained" and spec["postprocess"] == "minmax"
    assert spec["weights"] == str((pretrained / layout.BACKBONE_NAME).resolve())
    assert spec["weights_sha256"] == weights.digest(pretrained / layout.BACKBONE_NAME, "sha256")
    assert spec["variant"] == "audioset-2017"
    write_json(pretrained / "config.json", {"variant": "audioset-2020"})
    assert feature_sets.parse(str(pretrained)).spec["variant"] == "audioset-2020"  # as the pre-training run says
    (pretrained / "config.json").unlink()
    raw = feature_sets.cached_embeddings(openmic, split.test[:2], feature_set, cache)
    same_weights = feature_sets.parse("random", seed=5)
    np.testing.assert_allclose(raw, same_weights.compute(openmic, split.test[:2], cache), atol=1e-5)


@pytest.mark.slow
def test_feature_model_reproduces_cached_features(openmic, split, cache, pretrained):
    fitted = feature_sets.parse(str(pretrained)).fitted(openmic, split.train[:3], cache)
    model = feature_sets.from_spec(json.loads(json.dumps(fitted.spec))).model()  # as export reads feature_spec.json
    examples = log_mel(openmic, split.test[:2], cache)
    np.testing.assert_allclose(model.predict(examples, verbose=0),
                               fitted.compute(openmic, split.test[:2], cache), atol=1e-5)
    logmel = feature_sets.parse("logmel").model()
    assert logmel.predict(examples, verbose=0).shape == (2, 960, 64)


def test_pca_model_is_vggish_pca_quantised_over_255(pretrained, official_pca, monkeypatch):
    monkeypatch.setattr(weights, "official_weights", lambda: pretrained / layout.BACKBONE_NAME)
    model = feature_sets.parse("pca").model()
    examples = np.random.default_rng(0).normal(size=(2, 3, 96, 64)).astype(np.float32)
    pca = model.predict(examples, verbose=0)
    assert pca.shape == (2, 3, 128) and pca.dtype == np.float32
    postprocess = vggish.PCAQuantize.from_file(official_pca)
    expected = postprocess(vggish.from_preset("random", seed=5)(examples.reshape(-1, 96, 64))).numpy() / 255
    np.testing.assert_allclose(pca.reshape(-1, 128), expected, atol=1e-6)


def test_changed_weights_are_refused(tmp_path, pretrained):
    copy = tmp_path / "backbone.weights.h5"
    copy.write_bytes((pretrained / layout.BACKBONE_NAME).read_bytes())
    spec = feature_sets.parse(str(copy))
    with open(copy, "ab") as stream:
        stream.write(b"\0")
    with pytest.raises(feature_sets.FeatureError, match="weights changed since"):
        spec.extractor()


@pytest.mark.parametrize("arguments, message", [
    (("mfcc",), "unknown feature set 'mfcc'"),
    (("pca", "random"), "--weights applies to --features norm only"),
    (("logmel", None, "audioset-2020"), "--variant does not apply"),
    (("random", None, "audioset-1999"), "unknown VGGish variant"),
])
def test_bad_feature_sets_are_clear_errors(arguments, message):
    with pytest.raises(feature_sets.FeatureError, match=message):
        feature_sets.parse(*arguments)


def test_missing_inputs_are_found_before_any_work(openmic, monkeypatch):
    with pytest.raises(feature_sets.FeatureError, match="pca feature set is the release's features"):
        feature_sets.parse("pca").check_available(openmic)
    monkeypatch.setenv("AIRTF_MODELS", "/nonexistent")
    with pytest.raises(WeightsNotFoundError, match="airtf-weights fetch"):
        feature_sets.parse("norm").check_available(openmic)
    feature_sets.parse("norm", weights="random").check_available(openmic)


def test_every_registered_feature_set_implements_the_contract():
    assert inspect.isabstract(feature_sets.FeatureSet)
    assert {"pca", "norm", "random", "logmel", "pretrained"} <= set(feature_sets.FEATURE_SETS)
    for kind, cls in feature_sets.FEATURE_SETS.items():
        assert not inspect.isabstract(cls), f"{kind} leaves {sorted(cls.__abstractmethods__)} unimplemented"

    class Incomplete(feature_sets.FeatureSet):
        kind = "incomplete"

        def describe(self):
            return "incomplete"

    with pytest.raises(TypeError, match="abstract"):
        Incomplete({"kind": "incomplete"})
