"""den-add and den-mul: decoder shapes, corruption, the clean target, training on demo NSynth, TensorBoard images."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from airtf.datasets import nsynth
from airtf.demo import sets as demo
from airtf.pretrain.objectives.denoising import figures
from airtf.pretrain.objectives.denoising import model as denoising
from airtf.runs import run_directory, summaries
from airtf.vggish import build_backbone

IMAGE_NAMES = {"clean", "corrupted", "reconstructed"}


def small_backbone():
    """A fast stand-in for VGGish with its shapes: (batch, 96, 64) -> (batch, 128)."""
    return keras.Sequential([keras.Input((96, 64)), keras.layers.Flatten(), keras.layers.Dense(128, activation="relu")])


def compiled(noise):
    """A denoising model on the small backbone, seeded, ready to fit."""
    keras.utils.set_random_seed(0)
    model = denoising.build(small_backbone(), noise=noise)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def fit(model, data, epochs, callbacks=()):
    """Train on ``data``; returns the history's dict."""
    return model.fit(data.train, validation_data=data.validation, epochs=epochs,
                     callbacks=[*data.callbacks, *callbacks], verbose=0).history


@pytest.fixture(scope="module")
def nsynth_root(tmp_path_factory):
    """A demo NSynth of 24 notes of 6 instruments: 16 in train, 4 in valid, 4 in test."""
    folder = tmp_path_factory.mktemp("demo") / "nsynth"
    demo.render_nsynth(folder, 24)
    return folder


@pytest.fixture(scope="module")
def data(nsynth_root, tmp_path_factory):
    return denoising.datasets(nsynth_root, batch_size=4, seed=0, cache_dir=tmp_path_factory.mktemp("cache"))


def test_decoder_widens_1_10_30_60_96_to_a_log_mel_example():
    decoder = denoising.build_decoder()
    deconvolutions = [decoder.get_layer(f"deconv{number}") for number in range(1, 5)]
    assert [layer.output.shape[1:] for layer in deconvolutions] == [(10, 128), (30, 64), (60, 64), (96, 64)]
    assert [(layer.kernel_size, layer.strides, layer.padding) for layer in deconvolutions] == [
        ((10,), (1,), "valid"), ((21,), (1,), "valid"), ((31,), (1,), "valid"), ((37,), (1,), "valid")]
    slopes = [decoder.get_layer(f"leaky_relu{number}").negative_slope for number in range(1, 4)]
    assert slopes == pytest.approx([0.1, 0.25, 0.5])
    assert decoder.layers[-1] is deconvolutions[-1] and deconvolutions[-1].activation is keras.activations.linear
    assert decoder.input.shape == (None, 128) and decoder.output.shape == (None, 96, 64)


def test_heads_on_the_real_vggish():
    model = denoising.build(build_backbone(), noise="multiplicative")
    log_mel = np.random.default_rng(0).normal(size=(2, 96, 64)).astype(np.float32)
    assert model.backbone(log_mel).shape == (2, 128)
    assert model(log_mel).shape == (2, 96, 64)
    assert {"vggish", "decoder"} <= {layer.name for layer in model.layers}


def test_additive_noise_is_gaussian_with_mean_0_and_std_0_1():
    clean = np.full((64, 96, 64), 2.0, np.float32)
    noise = keras.ops.convert_to_numpy(denoising.corrupt(clean, "additive", keras.random.SeedGenerator(1))) - clean
    assert abs(noise.mean()) < 0.002
    assert noise.std() == pytest.approx(0.1, rel=0.01)


@pytest.mark.parametrize("rescale", [False, True])
def test_multiplicative_noise_zeroes_half_of_the_bins(rescale):
    clean = np.random.default_rng(0).uniform(1.0, 2.0, (64, 96, 64)).astype(np.float32)
    corrupted = keras.ops.convert_to_numpy(
        denoising.corrupt(clean, "multiplicative", keras.random.SeedGenerator(1), rescale=rescale))
    zeroed = corrupted == 0
    assert zeroed.mean() == pytest.approx(0.5, abs=0.01)
    np.testing.assert_allclose(corrupted[~zeroed], clean[~zeroed] * (2.0 if rescale else 1.0), rtol=1e-6)


@pytest.mark.parametrize("noise", denoising.NOISES)
def test_training_noise_is_fresh_and_validation_noise_fixed(noise):
    model = denoising.build(small_backbone(), noise=noise)
    clean = np.ones((8, 96, 64), np.float32)
    draw = {training: [keras.ops.convert_to_numpy(model.corrupt(clean, training)) for _ in range(2)]
            for training in (True, False)}
    assert not np.array_equal(*draw[True])
    np.testing.assert_array_equal(*draw[False])
    assert not np.array_equal(draw[True][0], draw[False][0])


def test_the_loss_compares_the_reconstruction_with_the_clean_input():
    model = denoising.build(small_backbone(), noise="additive", stddev=1.0)
    model.compile(optimizer="adam")
    clean = np.random.default_rng(0).normal(size=(16, 96, 64)).astype(np.float32)
    corrupted = keras.ops.convert_to_numpy(model.corrupt(clean))
    reconstructed = keras.ops.convert_to_numpy(model(clean))
    loss = model.evaluate(clean, batch_size=16, verbose=0)
    assert loss == pytest.approx(np.mean((reconstructed - clean) ** 2), rel=1e-5)
    assert loss != pytest.approx(np.mean((reconstructed - corrupted) ** 2), rel=1e-2)


def test_unknown_noise_is_refused():
    with pytest.raises(ValueError, match="noise='gaussian'"):
        denoising.build(small_backbone(), noise="gaussian")


def test_datasets_give_batches_of_clean_log_mel(nsynth_root, data):
    train_notes = len(json.loads((nsynth_root / "nsynth-train" / "examples.json").read_text()))
    assert [batch.shape for batch in data.train] == [(4, 96, 64)] * (train_notes // 4)
    assert data.train.element_spec.dtype == tf.float32
    validation = np.concatenate([batch.numpy() for batch in data.validation])
    clean = np.stack([example.numpy() for example, _ in nsynth.load(nsynth_root, "valid")])
    np.testing.assert_allclose(validation, clean, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("noise", denoising.NOISES)
def test_training_lowers_the_validation_loss(noise, data):
    history = fit(compiled(noise), data, epochs=3)
    assert history["val_loss"][-1] < 0.9 * history["val_loss"][0]


def read_images(folder):
    """{(name, step): list of images as arrays} from the event files in ``folder``."""
    images = {}
    for events in sorted(folder.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                encoded = tf.make_ndarray(value.tensor)[2:]  # width, height, then one PNG per image
                images[value.tag, event.step] = [tf.io.decode_png(png).numpy() for png in encoded]
    return images


@pytest.mark.slow
def test_tensorboard_shows_clean_corrupted_and_reconstructed_log_mel(data, tmp_path):
    run = run_directory.start(tmp_path / "run", {"objective": "den-mul"})
    model = compiled("multiplicative")
    fit(model, data, epochs=2, callbacks=denoising.tensorboard_callbacks(run, model, data))
    images = read_images(run.logs / "validation")
    notes = data.info["shown_notes"]
    assert len(notes) == denoising.IMAGE_EXAMPLES and len(set(notes)) == len(notes)  # the first example of each
    assert set(images) == {(f"reconstruction/{index} {note}", step) for index, note in enumerate(notes)
                           for step in (0, 1)}
    [shown] = images[f"reconstruction/0 {notes[0]}", 0]
    example = np.zeros((96, 64), np.float32)
    figure = figures.reconstruction_figure({name: example for name in IMAGE_NAMES}, "a note")
    assert shown.shape == summaries.figure_pixels(figure).shape  # the three-panel figure with its axes


def test_reconstruction_figure_shares_the_clean_scale_with_low_bands_at_the_bottom():
    example = np.zeros((96, 64), np.float32)
    example[10, 0] = 1.0  # frame 10, lowest band
    figure = figures.reconstruction_figure({"clean": example, "noisy": example * 3, "rebuilt": example / 2}, "x")
    panels = [axes for axes in figure.axes if axes.get_images()][:3]
    assert [axes.get_title() for axes in panels] == ["clean", "noisy", "rebuilt"]
    for axes in panels:
        image = axes.get_images()[0]
        assert image.origin == "lower" and image.get_clim() == (0.0, 1.0)  # one scale: the clean example's
        assert list(image.get_extent()) == [0, pytest.approx(0.96), 0, 64]
    assert panels[0].get_images()[0].get_array()[0, 10] == 1.0  # band 0, drawn at the bottom, at frame 10
