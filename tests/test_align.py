"""align: NT-Xent against numpy, branch shapes, the split and vocabulary, training on demo Freesound."""

import keras
import numpy as np
import pytest

from airtf.datasets.freesound import read_tags, SkippedSoundsWarning
from airtf.datasets.pipeline import DatasetError
from airtf.demo import sets as demo
from airtf.pretrain.objectives.align import Align
from airtf.pretrain.objectives.align import model as align
from airtf.vggish import build_backbone


def reference_nt_xent(audio, tags, temperature, normalise=True):
    """NT-Xent in plain numpy, one anchor at a time (``normalise=False``: dot products instead of cosines)."""
    embeddings = np.concatenate([audio, tags]).astype(np.float64)
    if normalise:
        embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    count = len(embeddings)
    losses = []
    for anchor in range(count):
        positive = (anchor + len(audio)) % count
        logits = {other: embeddings[anchor] @ embeddings[other] / temperature
                  for other in range(count) if other != anchor}
        losses.append(np.logaddexp.reduce(list(logits.values())) - logits[positive])
    return np.array(losses)


@pytest.fixture()
def embeddings():
    """Audio and tag embeddings of 4 sounds, of unequal lengths, each tag row near its audio row."""
    rng = np.random.default_rng(0)
    audio = rng.normal(size=(4, 6))
    tags = audio + 2.0 * rng.normal(size=(4, 6))
    scales = np.array([[0.5], [1.0], [3.0], [7.0]])
    return (audio * scales).astype(np.float32), (tags * scales[::-1]).astype(np.float32)


def small_backbone():
    """A fast stand-in for VGGish with its shapes: (batch, 96, 64) -> (batch, 128)."""
    return keras.Sequential([keras.Input((96, 64)), keras.layers.Flatten(), keras.layers.Dense(128, activation="relu")])


def batch_of(count, vocabulary_size, seed=0):
    rng = np.random.default_rng(seed)
    return {"log_mel": rng.normal(size=(count, 96, 64)).astype(np.float32),
            "tags": (rng.random((count, vocabulary_size)) < 0.3).astype(np.float32)}


def test_nt_xent_matches_numpy_at_temperature_0_1(embeddings):
    audio, tags = embeddings
    expected = reference_nt_xent(audio, tags, 0.1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(align.nt_xent(audio, tags)), expected, rtol=1e-5, atol=1e-5)
    assert float(align.NTXent()(audio, tags)) == pytest.approx(expected.mean(), rel=1e-5)
    assert not np.allclose(reference_nt_xent(audio, tags, 1.0), expected, rtol=0.01)  # the temperature matters


def test_nt_xent_uses_cosine_similarity(embeddings):
    audio, tags = embeddings
    computed = keras.ops.convert_to_numpy(align.nt_xent(audio, tags))
    assert not np.allclose(computed, reference_nt_xent(audio, tags, 0.1, normalise=False), rtol=0.01)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(align.nt_xent(3 * audio, 0.2 * tags)), computed,
                               rtol=1e-5, atol=1e-5)


def test_retrieval_hits_count_the_own_sound_as_the_nearest():
    audio = np.eye(3, dtype=np.float32)
    assert keras.ops.convert_to_numpy(align.retrieval_hits(audio, audio * 5)).tolist() == [1, 1, 1]
    assert keras.ops.convert_to_numpy(align.retrieval_hits(audio, audio[[1, 2, 0]])).tolist() == [0, 0, 0]


def test_tag_encoder_is_1000_512_512_1152_with_batch_norm_relu_and_dropout():
    encoder = align.build_tag_encoder(1000)
    dense = [layer for layer in encoder.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [512, 512, 1152] and all(layer.use_bias for layer in dense)
    kinds = [type(layer).__name__ for layer in encoder.layers[1:]]
    assert kinds == ["Dense", "BatchNormalization", "ReLU", "Dropout"] * 3
    assert {layer.rate for layer in encoder.layers if isinstance(layer, keras.layers.Dropout)} == {0.25}
    assert encoder.output.shape == (None, 1152)


def test_tag_decoder_is_1152_512_512_to_sigmoid_tags():
    decoder = align.build_tag_decoder(1000)
    dense = [layer for layer in decoder.layers if isinstance(layer, keras.layers.Dense)]
    assert decoder.input.shape == (None, 1152)
    assert [layer.units for layer in dense] == [512, 512, 1000]
    assert dense[-1].activation is keras.activations.sigmoid


def test_branches_on_the_real_vggish():
    model = align.build(build_backbone())
    outputs = model(batch_of(3, 1000))
    assert {name: tuple(value.shape) for name, value in outputs.items()} == {
        "audio": (3, 1152), "tags": (3, 1152), "reconstruction": (3, 1000)}
    reconstruction = keras.ops.convert_to_numpy(outputs["reconstruction"])
    assert reconstruction.min() >= 0 and reconstruction.max() <= 1
    assert model.audio_projection.use_bias and not model.tag_projection.use_bias
    assert model.audio_projection.kernel.shape == (128, 1152)


def test_without_the_autoencoder_there_is_no_decoder():
    model = align.build(small_backbone(), vocabulary_size=20, autoencoder=False)
    assert set(model(batch_of(2, 20))) == {"audio", "tags"}
    with_decoder = align.build(small_backbone(), vocabulary_size=20)
    assert model.count_params() < with_decoder.count_params()


@pytest.mark.parametrize("autoencoder", [True, False])
def test_the_loss_weighs_contrastive_10_and_reconstruction_5(autoencoder):
    model = align.build(small_backbone(), vocabulary_size=20, autoencoder=autoencoder)
    model.compile(optimizer="adam")
    scores = model.evaluate(batch_of(8, 20), batch_size=8, verbose=0, return_dict=True)
    expected = 10 * scores["contrastive_loss"] + 5 * scores.get("reconstruction_loss", 0.0)
    assert scores["loss"] == pytest.approx(expected, rel=1e-5)
    assert ("reconstruction_loss" in scores) == autoencoder
    assert 0 <= scores["retrieval_accuracy"] <= 1


def test_split_sounds_holds_out_15_percent_by_seed():
    sounds = [str(number) for number in range(100, 140)]
    train, validation = align.split_sounds(sounds, seed=3)
    assert len(validation) == 6 and sorted(train + validation) == sounds and not set(train) & set(validation)
    assert align.split_sounds(sounds[::-1], seed=3)[1] == validation[::-1]
    assert align.split_sounds(sounds, seed=4)[1] != validation
    with pytest.raises(DatasetError, match="at least 2"):
        align.split_sounds(["1"], seed=0)


@pytest.fixture(scope="module")
def freesound_root(tmp_path_factory):
    """A demo Freesound of 40 clips."""
    folder = tmp_path_factory.mktemp("demo") / "freesound"
    demo.render_freesound(folder, 40)
    return folder


@pytest.fixture(scope="module")
def data(freesound_root, tmp_path_factory):
    return align.datasets(freesound_root, batch_size=8, seed=0, cache_dir=tmp_path_factory.mktemp("cache"))


def test_datasets_build_the_vocabulary_from_training_sounds_only(freesound_root, data):
    tags = read_tags(freesound_root / "tags.csv")
    train, validation = align.split_sounds(list(tags), seed=0)
    vocabulary = data.info["vocabulary"]
    assert set(vocabulary.tags) == {tag for sound in train for tag in tags[sound]}
    assert data.info["sounds"] == {"train": 34, "validation": 6, "left_out": 0}
    batches = list(data.validation)
    assert [batch["log_mel"].shape for batch in batches] == [(6, 96, 64)]
    expected = np.stack([vocabulary.multi_hot(tags[sound]) for sound in validation])
    np.testing.assert_array_equal(batches[0]["tags"].numpy(), expected)


def test_a_small_vocabulary_leaves_out_sounds_without_its_tags(freesound_root):
    with pytest.warns(SkippedSoundsWarning, match="left out"):
        small = align.datasets(freesound_root, batch_size=8, seed=0, vocabulary_size=2)
    assert len(small.info["vocabulary"]) == 2
    assert small.info["sounds"]["left_out"] > 0
    assert next(iter(small.train))["tags"].shape[1:] == (2,)


@pytest.mark.slow
def test_training_lowers_the_validation_loss(data):
    keras.utils.set_random_seed(0)
    model = align.build(small_backbone(), vocabulary_size=len(data.info["vocabulary"]))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(data.train, validation_data=data.validation, epochs=3, callbacks=list(data.callbacks),
                        verbose=0).history
    assert history["val_loss"][-1] < 0.9 * history["val_loss"][0]
    assert history["val_contrastive_loss"][-1] < history["val_contrastive_loss"][0]
    assert {"val_retrieval_accuracy", "val_reconstruction_loss"} <= set(history)


def test_there_are_no_extra_tensorboard_views(data):
    assert Align().tensorboard_callbacks(None, None, data) == []


def test_sounds_without_audio_are_a_clear_error(tmp_path):
    (tmp_path / "tags.csv").write_text("sound_id,tags\n101,piano bright\n")
    with pytest.raises(DatasetError, match="no sound has both tags and an audio file"):
        align.datasets(tmp_path, batch_size=8, seed=0)
