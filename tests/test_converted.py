"""TF1 checkpoints read once: the converted copy keyed by content, used, rebuilt, never stale."""

import shutil
import warnings

import numpy as np
import pytest

import tf1_vggish
from airtf.errors import CheckpointError
from airtf.vggish import backbone, checkpoint, converted, presets


@pytest.fixture(scope="module")
def examples():
    return np.random.default_rng(5).normal(0.0, 2.0, (2, 96, 64)).astype(np.float32)


@pytest.fixture(scope="module")
def originals(tmp_path_factory, examples):
    """Checkpoints written once: (version, seed) -> (path, the TF1 graph's embeddings)."""
    written = {}
    for version, seed in (("V1", 1), ("V2", 1), ("V2", 2)):
        path = tmp_path_factory.mktemp(f"{version}-{seed}") / "vggish_model.ckpt"
        written[version, seed] = path, tf1_vggish.write_checkpoint(path, examples, version=version, seed=seed)
    return written


def copy_checkpoint(source, folder):
    """The checkpoint at ``source`` copied into ``folder`` under the same name."""
    for file in converted.checkpoint_files(source):
        shutil.copyfile(file, folder / file.name)
    return folder / source.name


@pytest.fixture(params=["V1", "V2"])
def written(request, tmp_path, originals):
    path, expected = originals[request.param, 1]
    return copy_checkpoint(path, tmp_path), expected


def embeddings(path, examples, variant="audioset-2020"):
    return presets.from_preset(path, variant=variant).predict(examples, verbose=0)


def refuse_reading_checkpoints(monkeypatch):
    def refused(*args):
        raise AssertionError("the checkpoint was read though its converted copy exists")

    monkeypatch.setattr(checkpoint, "read_checkpoint", refused)


@pytest.mark.slow
def test_the_first_load_writes_the_copy_and_later_ones_read_only_it(written, examples, monkeypatch):
    path, expected = written
    np.testing.assert_allclose(embeddings(path, examples), expected["audioset-2020"], rtol=1e-5, atol=1e-4)
    copy = converted.converted_path(path)
    assert copy.parent == presets.models_dir() / converted.FOLDER
    assert sum(file.stat().st_size for file in copy.iterdir()) > 280e6
    refuse_reading_checkpoints(monkeypatch)
    for variant in ("audioset-2020", "audioset-2017"):  # one copy serves both variants
        np.testing.assert_allclose(embeddings(path, examples, variant), expected[variant], rtol=1e-5, atol=1e-4)


@pytest.mark.slow
def test_a_checkpoint_rewritten_in_place_is_read_again(tmp_path, originals, examples):
    path, expected = originals["V2", 1]
    path = copy_checkpoint(path, tmp_path)
    embeddings(path, examples)
    other, rewritten = originals["V2", 2]
    copy_checkpoint(other, tmp_path)
    assert not np.allclose(rewritten["audioset-2020"], expected["audioset-2020"], atol=1e-3)
    np.testing.assert_allclose(embeddings(path, examples), rewritten["audioset-2020"], rtol=1e-5, atol=1e-4)
    assert len(list(converted.converted_path(path).parent.iterdir())) == 2


@pytest.mark.slow
def test_a_damaged_copy_is_written_again(written, examples):
    path, expected = written
    embeddings(path, examples)
    [data] = converted.converted_path(path).glob(f"{converted.PREFIX}.data-*")
    data.write_bytes(data.read_bytes()[:4096])
    np.testing.assert_allclose(embeddings(path, examples), expected["audioset-2020"], rtol=1e-5, atol=1e-4)
    [data] = converted.converted_path(path).glob(f"{converted.PREFIX}.data-*")
    assert data.stat().st_size > 280e6


@pytest.mark.slow
def test_an_unwritable_models_folder_reads_the_checkpoint_with_one_warning(tmp_path, originals, examples,
                                                                          monkeypatch):
    path, expected = originals["V2", 1]
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the models folder should be")
    monkeypatch.setenv("AIRTF_MODELS", str(blocked))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = embeddings(path, examples)
    np.testing.assert_allclose(result, expected["audioset-2020"], rtol=1e-5, atol=1e-4)
    [warning] = [w.message for w in caught if isinstance(w.message, converted.UncachedCheckpointWarning)]
    assert "vggish_model.ckpt: its converted copy cannot be written" in str(warning)
    assert "AIRTF_MODELS" in warning.fix


def test_a_missing_checkpoint_is_still_named(tmp_path):
    with pytest.raises(CheckpointError, match="nothing.ckpt"):
        converted.load(backbone.build_backbone(), tmp_path / "nothing.ckpt")
