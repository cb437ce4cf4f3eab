"""Official weight files: verification against the manifest, fetching, conversion, --weights."""

import copy

import numpy as np
import pytest

import tf1_vggish
from airtf import vggish
from airtf.vggish import presets as weights
from airtf.cli import weights as weights_cli
from airtf.errors import CheckpointError, WeightsNotFoundError


def test_real_pca_file_verifies(shared_data, capsys):
    path = shared_data / "vggish" / "vggish_pca_params.npz"
    assert weights.verify(path) == "vggish_pca_params.npz"
    assert weights_cli.main(["verify", str(path)]) == 0
    assert "OK, the official vggish_pca_params.npz" in capsys.readouterr().out


def test_altered_file_fails_verification(shared_data, tmp_path):
    copy = tmp_path / "vggish_pca_params.npz"
    data = bytearray((shared_data / "vggish" / "vggish_pca_params.npz").read_bytes())
    data[1000] ^= 0xFF  # same size, one byte changed
    copy.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256 [0-9a-f]+, expected [0-9a-f]+; the file is corrupt or another file: download the official "
                                              "vggish_pca_params.npz again from https:"):
        weights.verify(copy)
    copy.write_bytes(bytes(data[:-10]))
    with pytest.raises(CheckpointError, match="73010 bytes, expected 73020; the download is incomplete"):
        weights.verify(copy, "vggish_pca_params.npz")


def test_fetch_copies_verifies_and_keeps(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRTF_MODELS", str(tmp_path / "models"))
    source = shared_data / "vggish"
    assert weights.fetch(["vggish_pca_params.npz"], source=source)[0][2] == "copied"
    assert weights.fetch(["vggish_pca_params.npz"], source=source)[0][2] == "present"
    assert weights.official_pca_params() == tmp_path / "models" / "vggish_pca_params.npz"


def test_fetch_refuses_a_bad_copy_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRTF_MODELS", str(tmp_path / "models"))
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "vggish_pca_params.npz").write_bytes(b"not the file")
    with pytest.raises(CheckpointError):
        weights.fetch(["vggish_pca_params.npz"], source=tmp_path / "src")
    assert not list((tmp_path / "models").iterdir())


def test_fetch_offline_says_where_to_put_the_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AIRTF_MODELS", str(tmp_path / "models"))
    entries = copy.deepcopy(weights.manifest())  # the manifest is cached: change a copy
    entries["vggish_model.ckpt"]["url"] = "http://127.0.0.1:9/vggish_model.ckpt"  # nothing listens there
    monkeypatch.setattr(weights, "manifest", lambda: entries)
    assert weights_cli.main(["fetch", "vggish_model.ckpt"]) == 2
    err = capsys.readouterr().err
    assert "cannot download" in err and str(tmp_path / "models" / "vggish_model.ckpt") in err and "--from" in err


def serve_official(server, monkeypatch, name, content):
    """Serve ``content`` as the official file ``name``: the manifest (a copy) points there."""
    server.files[name] = content
    entries = copy.deepcopy(weights.manifest())
    entries[name]["url"] = server.url + name
    monkeypatch.setattr(weights, "manifest", lambda: entries)


def test_fetch_downloads_and_resumes_where_a_broken_connection_stopped(shared_data, tmp_path, monkeypatch, server,
                                                                       capsys):
    monkeypatch.setenv("AIRTF_MODELS", str(tmp_path / "models"))
    content = (shared_data / "vggish" / "vggish_pca_params.npz").read_bytes()
    serve_official(server, monkeypatch, "vggish_pca_params.npz", content)
    server.drop_after = len(content) // 3
    assert weights_cli.main(["fetch", "vggish_pca_params.npz"]) == 2
    assert "rerun the same command to continue" in capsys.readouterr().err
    assert not (tmp_path / "models" / "vggish_pca_params.npz").exists()  # nothing unverified in place
    assert weights_cli.main(["fetch", "vggish_pca_params.npz"]) == 0
    assert "vggish_pca_params.npz: resumed, verified" in capsys.readouterr().out
    assert server.requests[-1] == ("GET", "vggish_pca_params.npz", f"bytes={len(content) // 3}-")
    assert weights.verify(tmp_path / "models" / "vggish_pca_params.npz") == "vggish_pca_params.npz"
    assert sorted(path.name for path in (tmp_path / "models").iterdir()) == ["vggish_pca_params.npz"]


def test_fetch_refuses_a_served_file_of_the_right_size_but_other_bytes(shared_data, tmp_path, monkeypatch, server):
    monkeypatch.setenv("AIRTF_MODELS", str(tmp_path / "models"))
    content = bytearray((shared_data / "vggish" / "vggish_pca_params.npz").read_bytes())
    content[1000] ^= 0xFF
    serve_official(server, monkeypatch, "vggish_pca_params.npz", bytes(content))
    with pytest.raises(CheckpointError, match="sha256 [0-9a-f]+, expected [0-9a-f]+; the file is corrupt or "
                                              f"another file: download the official vggish_pca_params.npz again "
                                              f"from {server.url}vggish_pca_params.npz"):
        weights.fetch(["vggish_pca_params.npz"])
    assert not list((tmp_path / "models").iterdir())


@pytest.mark.slow
def test_convert_writes_h5_that_loads_the_same(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRTF_MODELS", str(tmp_path))
    examples = np.random.default_rng(0).normal(0, 1, (2, 96, 64)).astype(np.float32)
    expected = tf1_vggish.write_checkpoint(tmp_path / "vggish_model.ckpt", examples, "V1")
    assert weights.official_weights() == tmp_path / "vggish_model.ckpt"
    assert weights_cli.main(["convert"]) == 0
    assert weights.official_weights() == tmp_path / "vggish_model.ckpt"  # the checkpoint, while it is there
    (tmp_path / "vggish_model.ckpt").unlink()
    assert weights.official_weights() == tmp_path / "vggish_model.weights.h5"
    model = vggish.from_preset("official", "audioset-2020")
    np.testing.assert_allclose(model.predict(examples, verbose=0), expected["audioset-2020"], rtol=1e-5, atol=1e-4)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (tmp_path / "vggish_model.weights.h5").rename(run_dir / "vggish.weights.h5")
    from_run = vggish.from_preset(str(run_dir), "audioset-2017")
    np.testing.assert_allclose(from_run.predict(examples, verbose=0), expected["audioset-2017"], rtol=1e-5, atol=1e-4)


def test_random_weights_are_seeded():
    first = vggish.from_preset("random", seed=5).get_layer("conv1").get_weights()[0]
    again = vggish.from_preset("random", seed=5).get_layer("conv1").get_weights()[0]
    other = vggish.from_preset("random", seed=6).get_layer("conv1").get_weights()[0]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "missing.h5", "weights not found"),
    (lambda tmp: tmp, "without vggish.weights.h5"),
])
def test_bad_weights_arguments_are_explained(tmp_path, make, message):
    with pytest.raises(CheckpointError, match=message):
        vggish.WeightsSource.parse(str(make(tmp_path)))


def test_no_official_weights_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRTF_MODELS", str(tmp_path))
    source = vggish.WeightsSource.parse("official")  # naming them needs no file: the manifest identifies them
    assert source.identity()["sha256"] == weights.manifest()["vggish_model.ckpt"]["sha256"]
    with pytest.raises(WeightsNotFoundError, match="airtf-weights fetch"):
        source.file()


def test_presets_name_the_official_weights_in_their_variant(tmp_path):
    assert vggish.WeightsSource.parse("audioset-2020") == vggish.WeightsSource("official", "audioset-2020")
    assert vggish.WeightsSource.parse(None, "audioset-2020").variant == "audioset-2020"
    with pytest.raises(CheckpointError, match="--weights audioset-2017 is the audioset-2017 variant"):
        vggish.WeightsSource.parse("audioset-2017", "audioset-2020")
    with pytest.raises(CheckpointError, match="unknown VGGish variant 'audioset-2019'"):
        vggish.WeightsSource.parse("random", "audioset-2019")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    vggish.build_backbone("audioset-2020").save_weights(run_dir / "vggish.weights.h5")
    (run_dir / "config.json").write_text('{"variant": "audioset-2020"}')
    assert vggish.WeightsSource.parse(run_dir).variant == "audioset-2020"  # the run's own
    assert vggish.WeightsSource.parse(run_dir, "audioset-2017").variant == "audioset-2017"
    random = vggish.WeightsSource.parse("random", seed=4)
    assert random.identity() == {"weights": "random", "sha256": None, "variant": "audioset-2017", "seed": 4}


def test_foreign_h5_is_refused(tmp_path):
    import keras
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    other.save_weights(tmp_path / "other.weights.h5")
    with pytest.raises(CheckpointError, match="other.weights.h5: cannot load as VGGish weights"):
        vggish.from_preset(str(tmp_path / "other.weights.h5"))


@pytest.fixture(scope="module")
def random_h5(tmp_path_factory):
    """A VGGish .weights.h5 of seeded random weights, and the backbone that wrote it."""
    model = vggish.from_preset("random", seed=3)
    path = tmp_path_factory.mktemp("h5") / "vggish.weights.h5"
    model.save_weights(path)
    return path, model


@pytest.mark.slow
def test_a_warning_while_loading_h5_is_no_error(random_h5, monkeypatch):
    import keras
    path, written = random_h5
    original = keras.Model.load_weights

    def load_with_a_deprecation_warning(model, *args, **kwargs):
        import warnings
        warnings.warn("this argument will change in Keras 4", DeprecationWarning)
        return original(model, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "load_weights", load_with_a_deprecation_warning)
    with pytest.warns(DeprecationWarning):
        loaded = vggish.from_preset(str(path))
    for ours, theirs in zip(loaded.weights, written.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.slow
def test_h5_missing_a_layer_is_one_line_and_a_kernel_left_unloaded_is_named(random_h5, tmp_path):
    import h5py
    path, _ = random_h5
    damaged, unloaded = tmp_path / "damaged.weights.h5", tmp_path / "unloaded.weights.h5"
    for target in (damaged, unloaded):
        target.write_bytes(path.read_bytes())
    with h5py.File(damaged, "r+") as file:
        del file["layers/dense_1"]  # fc1_2's group: Keras refuses the file
    with pytest.raises(CheckpointError, match=r"damaged.weights.h5: cannot load as VGGish weights") as refused:
        vggish.from_preset(str(damaged))
    assert "\n" not in str(refused.value)
    with h5py.File(unloaded, "r+") as file:  # where Keras would only warn, fc1_2's kernel keeps its initial zeros
        kernel = file["layers/dense_1/vars/0"]
        kernel[...] = np.zeros(kernel.shape, kernel.dtype)
    with pytest.raises(CheckpointError, match=r"unloaded.weights.h5: .*holds no values for fc1_2/kernel"):
        vggish.from_preset(str(unloaded))


@pytest.mark.parametrize("debug", ["", "1"])
def test_airtf_debug_shows_the_traceback_behind_the_one_line_error(openmic_clip, tmp_path, monkeypatch, capsys,
                                                                   debug):
    import keras
    from airtf.cli import extract as extract_cli
    foreign = tmp_path / "other.weights.h5"
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save_weights(foreign)
    monkeypatch.setenv("AIRTF_DEBUG", debug)
    assert extract_cli.main([str(openmic_clip), "--out", str(tmp_path / "out"), "--output", "embedding",
                             "--weights", str(foreign), "--quiet"]) == 2
    stderr = capsys.readouterr().err
    assert stderr.strip().splitlines()[-1].startswith("airtf-extract: error: ") and "other.weights.h5" in stderr
    if debug:  # the CheckpointError's own traceback, and Keras's error that `raise ... from None` had hidden
        assert stderr.count("Traceback (most recent call last)") == 2 and "CheckpointError" in stderr
    else:
        assert len(stderr.strip().splitlines()) == 1
