"""The attention classifier: shapes, parameters, attention, options, saving, masked loss, training."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from airtf.classify import attention, metrics

CLASSES = 20


def random_features(frames=10, features=128, clips=4, seed=0):
    return np.random.default_rng(seed).random((clips, frames, features), dtype=np.float32)


def random_targets(clips=64, classes=CLASSES, seed=0):
    """Relevances in [0, 1] (0.5 where unannotated), a mask, and probabilities with exact 0 and 1."""
    rng = np.random.default_rng(seed)
    y_mask = rng.random((clips, classes)) < 0.4
    y_true = np.where(y_mask, rng.choice([0.0, 0.2, 0.5, 0.8, 1.0], (clips, classes)), 0.5).astype(np.float32)
    y_prob = rng.random((clips, classes)).astype(np.float32)
    y_prob[0, :4] = [0.0, 1.0, 0.0, 1.0]
    y_mask[0, :4] = True
    return y_true, y_mask, y_prob


@pytest.fixture(scope="module")
def model():
    classifier = attention.AttentionClassifier()
    classifier(random_features())
    return classifier


@pytest.mark.parametrize("frames", [10, 960])
def test_output_shapes(model, frames):
    x = random_features(frames=frames, clips=3)
    outputs = model.frame_outputs(x)
    assert model(x).shape == (3, CLASSES)
    assert outputs["probabilities"].shape == (3, CLASSES)
    assert outputs["attention"].shape == (3, frames, CLASSES)
    assert outputs["frame_probabilities"].shape == (3, frames, CLASSES)


def test_unknown_frame_count_in_a_graph_and_a_saved_model(model, tmp_path):
    signature = [tf.TensorSpec((None, None, 128), tf.float32)]
    traced = tf.function(model, input_signature=signature).get_concrete_function()
    model.export(str(tmp_path / "saved"), input_signature=signature, verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "saved"))
    for frames in (10, 37):
        x = random_features(frames=frames, clips=2, seed=frames)
        expected = model(x).numpy()
        np.testing.assert_allclose(traced(x).numpy(), expected, atol=1e-6)
        np.testing.assert_allclose(reloaded.serve(x).numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("norm, total", [("group", 55_592), ("batch", 56_360)])
def test_parameter_count_is_the_original(norm, total):
    classifier = attention.AttentionClassifier(norm=norm)
    classifier(random_features())
    trainable = sum(int(np.prod(weight.shape)) for weight in classifier.trainable_weights)
    assert trainable == 55_336
    assert classifier.count_params() == total


def test_attention_sums_to_one_and_probabilities_lie_in_0_1(model):
    x = 100 * random_features(frames=25, clips=8) - 50
    outputs = {name: value.numpy() for name, value in model.frame_outputs(x).items()}
    np.testing.assert_allclose(outputs["attention"].sum(axis=1), 1.0, atol=1e-5)
    assert np.all(outputs["attention"] > 0)
    for name in ("probabilities", "frame_probabilities"):
        assert np.all((outputs[name] >= 0) & (outputs[name] <= 1))
    pooled = np.clip((outputs["attention"] * outputs["frame_probabilities"]).sum(axis=1), 0, 1)
    np.testing.assert_allclose(outputs["probabilities"], pooled, atol=1e-6)
    np.testing.assert_allclose(model(x).numpy(), outputs["probabilities"], atol=1e-7)


def zero_embedding_kernels(classifier):
    for embedding in classifier.embeddings:
        embedding.kernel.assign(np.zeros(embedding.kernel.shape, np.float32))


@pytest.mark.parametrize("features", [128, 64])
def test_the_residual_adds_the_input_projected_when_needed(features):
    classifier = attention.AttentionClassifier()
    x = random_features(features=features)
    classifier(x)
    zero_embedding_kernels(classifier)  # the embedding layers then output 0: only the residual is left
    embedded = classifier.embed(x).numpy()
    if features == 128:
        assert classifier.residual_projection is None
        np.testing.assert_allclose(embedded, x, atol=1e-6)
    else:
        kernel = classifier.residual_projection.kernel.numpy()
        assert kernel.shape == (64, 128)
        np.testing.assert_allclose(embedded, x @ kernel, atol=1e-5)


def test_group_norm_is_per_clip_and_batch_norm_is_per_batch():
    x = random_features(clips=6)
    for norm, layer_type in (("group", keras.layers.GroupNormalization), ("batch", keras.layers.BatchNormalization)):
        classifier = attention.AttentionClassifier(dropout=0.0, norm=norm, groups=16)
        classifier(x)
        assert all(type(layer) is layer_type for layer in classifier.norms)
        classifier.input_norm.trainable = False  # inference statistics, so only the hidden norms see the batch
        alone = classifier.embed(x[:2], training=True).numpy()
        in_batch = classifier.embed(x, training=True).numpy()[:2]
        assert np.allclose(alone, in_batch, atol=1e-5) == (norm == "group")
    assert attention.AttentionClassifier(groups=16).norms[0].groups == 16
    assert attention.AttentionClassifier().norms[0].groups == attention.GROUPS == 32


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="norm"):
        attention.AttentionClassifier(norm="layer")
    with pytest.raises(ValueError, match="divide"):
        attention.AttentionClassifier(groups=24)


@pytest.mark.parametrize("compiled", [False, True], ids=["graph", "xla"])
def test_dropout_keeps_its_rate_scales_and_draws_anew_each_step(compiled):
    layer = attention.ThreefryDropout(0.6, seed=3)
    ones = tf.ones((64, 10, 128))
    step = tf.function(lambda x: layer(x, training=True), jit_compile=compiled)
    first, second = step(ones).numpy(), step(ones).numpy()
    assert set(np.unique(first)) <= {0.0, np.float32(1 / 0.4)}
    assert abs((first > 0).mean() - 0.4) < 0.01  # 81,920 draws: 0.01 is over 5 standard deviations
    assert abs(first.mean() - 1.0) < 0.025  # inverted dropout keeps the expectation
    assert 0.1 < ((first > 0) != (second > 0)).mean() < 0.9  # a new mask each step
    np.testing.assert_array_equal(layer(ones, training=False), ones)
    again = attention.ThreefryDropout(0.6, seed=3)
    np.testing.assert_array_equal(tf.function(lambda x: again(x, training=True), jit_compile=compiled)(ones), first)


@pytest.mark.slow
@pytest.mark.parametrize("norm", ["group", "batch"])
def test_save_and_load_round_trip(tmp_path, norm):
    classifier = attention.compile_classifier(
        attention.AttentionClassifier(num_classes=5, units=64, dropout=0.3, norm=norm, groups=8), jit_compile=False)
    x = random_features(frames=7, features=32, clips=16)
    y = attention.pack_targets(*random_targets(clips=16, classes=5)[:2])
    classifier.fit(x, y, epochs=1, verbose=0)  # moves the batch-norm statistics away from their start
    classifier.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert type(loaded) is attention.AttentionClassifier
    assert loaded.get_config() == classifier.get_config()
    for name, value in classifier.frame_outputs(x).items():
        np.testing.assert_allclose(loaded.frame_outputs(x)[name].numpy(), value.numpy(), atol=1e-6)
    assert isinstance(loaded.loss, attention.MaskedBinaryCrossentropy)
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), classifier.evaluate(x, y, verbose=0), rtol=1e-5)


def numpy_masked_bce(y_true, y_mask, y_prob):
    probabilities = np.clip(y_prob.astype(np.float64), 1e-7, 1 - 1e-7)
    targets = y_true >= 0.5
    entries = -np.where(targets, np.log(probabilities), np.log(1 - probabilities))
    return entries[y_mask].mean() if y_mask.any() else 0.0


def test_masked_loss_matches_numpy():
    loss = attention.MaskedBinaryCrossentropy()
    for seed in range(3):
        y_true, y_mask, y_prob = random_targets(seed=seed)
        value = float(loss(attention.pack_targets(y_true, y_mask), y_prob))
        assert value == pytest.approx(numpy_masked_bce(y_true, y_mask, y_prob), rel=1e-5)


def test_masked_loss_of_a_batch_without_annotations_is_zero():
    y_true, _, y_prob = random_targets()
    y_mask = np.zeros_like(y_true, dtype=bool)
    assert float(attention.MaskedBinaryCrossentropy()(attention.pack_targets(y_true, y_mask), y_prob)) == 0.0


def loss_and_gradients(classifier, x, y):
    loss = attention.MaskedBinaryCrossentropy()
    with tf.GradientTape() as tape:
        value = loss(y, classifier(x, training=False))
    return value.numpy(), [gradient.numpy() for gradient in tape.gradient(value, classifier.trainable_weights)]


def test_unannotated_labels_change_neither_loss_nor_gradients(model):
    x = random_features(clips=64)
    y_true, y_mask, _ = random_targets()
    changed = np.where(y_mask, y_true, 1.0 - np.random.default_rng(1).integers(0, 2, y_true.shape)).astype(np.float32)
    assert not np.array_equal(changed, y_true)
    loss, gradients = loss_and_gradients(model, x, attention.pack_targets(y_true, y_mask))
    changed_loss, changed_gradients = loss_and_gradients(model, x, attention.pack_targets(changed, y_mask))
    assert changed_loss == loss
    for gradient, changed_gradient in zip(gradients, changed_gradients):
        np.testing.assert_array_equal(changed_gradient, gradient)
    flipped_annotated = np.where(y_mask, 1.0 - y_true, y_true).astype(np.float32)
    assert loss_and_gradients(model, x, attention.pack_targets(flipped_annotated, y_mask))[0] != loss


def test_pack_targets_for_numpy_and_tf_data():
    y_true, y_mask, _ = random_targets(clips=5)
    packed = attention.pack_targets(y_true, y_mask)
    assert packed.shape == (5, 2 * CLASSES) and packed.dtype == np.float32
    unpacked_true, unpacked_mask = attention.unpack_targets(packed)
    np.testing.assert_array_equal(unpacked_true, y_true)
    np.testing.assert_array_equal(unpacked_mask, y_mask)
    dataset = tf.data.Dataset.from_tensor_slices((random_features(clips=5), y_true, y_mask))
    mapped = dataset.map(lambda x, t, m: (x, attention.pack_targets(t, m))).batch(5)
    (_, batch_targets), = mapped
    np.testing.assert_array_equal(batch_targets.numpy(), packed)


@pytest.mark.slow
def test_training_defaults_compile_and_train_with_xla():
    assert (attention.LEARNING_RATE, attention.BATCH_SIZE, attention.EPOCHS) == (5e-4, 128, 350)
    compiled = attention.compile_classifier(attention.AttentionClassifier())
    assert isinstance(compiled.optimizer, keras.optimizers.Adam)
    assert float(compiled.optimizer.learning_rate) == pytest.approx(5e-4)
    assert isinstance(compiled.loss, attention.MaskedBinaryCrossentropy)
    assert compiled.jit_compile and compiled.steps_per_execution == attention.STEPS_PER_EXECUTION
    y_true, y_mask, _ = random_targets(clips=32)
    logs = compiled.fit(random_features(clips=32), attention.pack_targets(y_true, y_mask), batch_size=16,
                        verbose=0).history
    assert np.isfinite(logs["loss"][0]) and set(logs) == {"loss"}


def separable_problem(clips, classes=3, frames=5, features=16, seed=0):
    """Instrument c is present where features 4c..4c+3 are high in some frames; 60 % of labels annotated."""
    rng = np.random.default_rng(seed)
    present = rng.random((clips, classes)) < 0.5
    x = rng.normal(0, 0.3, (clips, frames, features)).astype(np.float32)
    active_frames = rng.random((clips, frames)) < 0.6
    for c in range(classes):
        x[:, :, 4 * c:4 * c + 4] += 2.0 * (present[:, c, None] & active_frames)[..., None]
    y_mask = rng.random((clips, classes)) < 0.6
    return x, present.astype(np.float32), y_mask


@pytest.mark.slow
def test_a_quick_fit_learns_a_separable_problem():
    keras.utils.set_random_seed(0)
    x, y_true, y_mask = separable_problem(640)
    classifier = attention.compile_classifier(
        attention.AttentionClassifier(num_classes=3, units=32, groups=8), learning_rate=1e-2, jit_compile=False)
    classifier.fit(x, attention.pack_targets(y_true, y_mask), batch_size=64, epochs=12, verbose=0)
    test_x, test_true, test_mask = separable_problem(320, seed=1)
    scores = metrics.instrument_scores(test_true, test_mask, classifier.predict(test_x, verbose=0), list("abc"))
    assert scores["overall"]["f1"] > 0.9
