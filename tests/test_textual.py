"""The textual objective: head shapes, cosine embedding loss, pair formation, training, TensorBoard text."""

import json
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from airtf.datasets import nsynth
from airtf.demo import sets as demo
from airtf.pretrain import wordvectors
from airtf.pretrain.objectives.textual import model as textual
from airtf.runs import run_directory
from airtf.vggish import build_backbone

SIZE = 16  # of the stand-in word vectors
QUALITY_COUNT = len(nsynth.QUALITIES)
REPLACED = {"multiphonic": "polyphonic"}  # en_core_web_md lacks "multiphonic"


@pytest.fixture(scope="module")
def stand_in_vectors():
    """Random 16-d vectors for the paper's words: fast, and D other than 300."""
    rng = np.random.default_rng(5)
    return {word: rng.normal(size=SIZE).astype(np.float32) for word in nsynth.word_map().values()}


def stand_in_backbone(seed=0):
    """A small model with VGGish's shapes, (96, 64) -> (128): the time-mean and time-max of each band."""
    keras.utils.set_random_seed(seed)
    log_mel = keras.Input((96, 64))
    pooled = keras.layers.Concatenate()(
        [keras.layers.GlobalAveragePooling1D()(log_mel), keras.layers.GlobalMaxPooling1D()(log_mel)])
    return keras.Model(log_mel, keras.layers.Dense(128, activation="relu")(pooled))


def hold_out_training_notes(root, every=4):
    """Make nsynth-valid every ``every``-th note of nsynth-train (unseen notes of the training instruments).

    A demo set small enough for a test has one or two validation instruments,
    too few to measure generalisation to new instruments in a few epochs.
    """
    train_dir, valid_dir = root / "nsynth-train", root / "nsynth-valid"
    notes = json.loads((train_dir / "examples.json").read_text())
    held = {name: fields for position, (name, fields) in enumerate(notes.items()) if position % every == 0}
    shutil.rmtree(valid_dir)
    (valid_dir / "audio").mkdir(parents=True)
    for name in held:
        (train_dir / "audio" / f"{name}.wav").rename(valid_dir / "audio" / f"{name}.wav")
    (valid_dir / "examples.json").write_text(json.dumps(held))
    (train_dir / "examples.json").write_text(json.dumps({name: notes[name] for name in notes if name not in held}))


@pytest.fixture(scope="module")
def demo_nsynth(tmp_path_factory):
    """A 64-note demo NSynth whose validation notes come from the training instruments."""
    root = tmp_path_factory.mktemp("nsynth")
    demo.render_nsynth(root, notes=64, seed=0)
    hold_out_training_notes(root)
    return root


def numpy_pair_loss(prediction, target, label, margin=0.5):
    cosine = prediction @ target / (np.linalg.norm(prediction) * np.linalg.norm(target))
    return 1 - cosine if label > 0 else max(0.0, cosine - margin)


def test_head_output_shapes(stand_in_vectors):
    model = textual.build(stand_in_backbone(), word_vectors=stand_in_vectors)
    log_mel = np.zeros((3, 96, 64), np.float32)
    assert tuple(model(log_mel).shape) == (3, SIZE)
    assert [layer.name for layer in model.head.layers] == ["batch_norm", "hidden", "description"]
    assert [tuple(layer.kernel.shape) for layer in model.head.layers[1:]] == [(128, SIZE), (SIZE, SIZE)]
    assert model.head.get_layer("hidden").activation is keras.activations.tanh
    assert model.descriptions.shape == (QUALITY_COUNT, SIZE)
    assert list(model.words) == list(nsynth.QUALITIES)


def test_real_vggish_with_en_core_web_md_predicts_300_d():
    try:
        vectors = wordvectors.load("en_core_web_md")
    except wordvectors.WordVectorsError as error:
        pytest.skip(str(error))
    model = textual.build(build_backbone(), word_vectors=vectors, word_map=REPLACED)
    predictions = model(np.random.default_rng(0).normal(size=(2, 96, 64)).astype(np.float32))
    assert tuple(predictions.shape) == (2, 300)
    assert model.backbone.output_shape == (None, 128)
    assert model.words["multiphonic"] == "polyphonic" and model.words["fast_decay"] == "decay"
    np.testing.assert_array_equal(model.descriptions[nsynth.QUALITIES.index("reverb")], vectors["reverb"])


def test_missing_words_are_refused_before_any_audio_is_read(tmp_path):
    with pytest.raises(wordvectors.MissingWordsError, match="'multiphonic'.*--word-map multiphonic=polyphonic"):
        textual.datasets(tmp_path / "no-data-here", batch_size=4, seed=0, word_vectors={"bright": [1.0]})


def test_loss_of_hand_made_pairs_matches_numpy():
    rng = np.random.default_rng(1)
    predictions, targets = rng.normal(size=(2, 6, 5)).astype(np.float32)
    targets[1] = 2 * predictions[1]  # identical direction: positive loss 0
    targets[2] = -predictions[2]  # opposite: negative loss 0
    labels = np.array([1, 1, -1, -1, 1, -1], np.float32)
    weights = np.array([1, 1, 1, 0.5, 2, 0], np.float32)
    expected = [numpy_pair_loss(p, t, label) for p, t, label in zip(predictions, targets, labels)]
    similarities = np.diagonal(keras.ops.convert_to_numpy(textual.cosine_similarities(predictions, targets)))
    loss = textual.CosineEmbeddingLoss(0.5)(labels, similarities, sample_weight=weights)
    assert float(loss) == pytest.approx(np.dot(weights, expected) / weights.sum(), rel=1e-5)
    assert expected[1] == pytest.approx(0, abs=1e-6) and expected[2] == 0
    unweighted = textual.CosineEmbeddingLoss(0.5)(labels, similarities, sample_weight=np.ones(6))
    assert float(unweighted) == pytest.approx(np.mean(expected), rel=1e-5)


def qualities_of(*present):
    """Multi-hot rows, one per tuple of quality indices."""
    rows = np.zeros((len(present), QUALITY_COUNT), np.float32)
    for row, indices in zip(rows, present):
        row[list(indices)] = 1
    return rows


def test_training_pairs_are_one_present_and_one_absent_quality_drawn_anew():
    qualities = qualities_of((0, 4), (2,), (), tuple(range(QUALITY_COUNT)), (1, 3, 5, 7, 9))
    generator = keras.random.SeedGenerator(0)
    draws = np.stack([keras.ops.convert_to_numpy(textual.draw_pairs(qualities, generator)) for _ in range(200)])
    assert set(np.unique(draws)) == {0.0, 1.0}
    positives, negatives = draws * qualities, draws * (1 - qualities)
    np.testing.assert_array_equal(positives.sum(axis=2), np.tile([1, 1, 0, 1, 1], (200, 1)))
    np.testing.assert_array_equal(negatives.sum(axis=2), np.tile([1, 1, 1, 0, 1], (200, 1)))
    assert (draws[:, 2] * qualities[2]).sum() == 0  # a note without qualities: only negatives
    chosen = draws.sum(axis=0)  # every present (absent) quality is drawn, about uniformly
    np.testing.assert_array_equal(chosen > 0, np.ones_like(qualities, bool))
    assert chosen[0, [0, 4]] == pytest.approx([100, 100], abs=30)
    assert not np.array_equal(draws[0], draws[1])


def test_validation_loss_is_the_expected_training_loss(stand_in_vectors):
    model = textual.build(stand_in_backbone(), word_vectors=stand_in_vectors)
    qualities = qualities_of((0, 4), (2,), (), (1, 3, 5, 7, 9))
    predictions = np.random.default_rng(2).normal(size=(len(qualities), SIZE)).astype(np.float32)
    pairs = [(numpy_pair_loss(p, t, 1 if present else -1), present)
             for p, row in zip(predictions, qualities) for t, present in zip(model.descriptions, row)]
    losses = np.array([loss for loss, _ in pairs]).reshape(qualities.shape)
    per_note = [losses[i][row > 0].mean() if row.any() else 0 for i, row in enumerate(qualities)]
    per_note = np.add(per_note, [losses[i][row == 0].mean() for i, row in enumerate(qualities)])
    expected = per_note.sum() / (2 * len(qualities) - 1)  # the note without qualities has one pair
    validation = model.compute_loss(y=qualities, y_pred=predictions, training=False)
    assert float(validation) == pytest.approx(expected, rel=1e-5)
    copies = 2000  # a batch of many copies averages over as many draws
    training = model.compute_loss(y=np.tile(qualities, (copies, 1)), y_pred=np.tile(predictions, (copies, 1)))
    assert float(training) == pytest.approx(expected, rel=0.03)


def test_datasets_give_log_mel_and_qualities(demo_nsynth, stand_in_vectors):
    data = textual.datasets(demo_nsynth, batch_size=5, seed=0, word_vectors=stand_in_vectors)
    log_mel, qualities = next(iter(data.validation))
    assert log_mel.shape == (5, 96, 64) and qualities.shape == (5, QUALITY_COUNT)
    notes = json.loads((demo_nsynth / "nsynth-valid" / "examples.json").read_text())
    np.testing.assert_array_equal(qualities, [fields["qualities"] for fields in list(notes.values())[:5]])
    assert data.info["words"] == nsynth.word_map() and data.info["descriptions"].shape == (QUALITY_COUNT, SIZE)
    [order] = data.callbacks

    def epoch(number):
        order.on_epoch_begin(number)
        return [float(x) for batch, _ in data.train for x in batch.numpy().sum(axis=(1, 2))]

    first, second = epoch(0), epoch(1)
    training_notes = json.loads((demo_nsynth / "nsynth-train" / "examples.json").read_text())
    assert len(first) == len(training_notes) and sorted(first) == sorted(second)
    assert first != second  # reshuffled every epoch
    assert epoch(0) == first  # in an order of the seed and the epoch alone, as a resumed run needs


@pytest.mark.slow
def test_training_lowers_the_validation_loss(demo_nsynth):
    try:
        vectors = wordvectors.load("en_core_web_md")
    except wordvectors.WordVectorsError as error:
        pytest.skip(str(error))
    data = textual.datasets(demo_nsynth, batch_size=8, seed=0, word_vectors=vectors, word_map=REPLACED)
    model = textual.build(stand_in_backbone(), word_vectors=vectors, word_map=REPLACED)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    untrained = model.evaluate(data.validation, verbose=0)
    history = model.fit(data.train, validation_data=data.validation, epochs=4, callbacks=list(data.callbacks),
                        verbose=0).history
    assert set(history) == {"loss", "val_loss"}
    assert history["val_loss"][-1] < 0.95 * untrained
    assert history["loss"][-1] < history["loss"][0]


def logged_texts(folder):
    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0}).Reload()
    return [(event.step, tf.make_ndarray(event.tensor_proto).item().decode())
            for event in accumulator.Tensors("nearest_descriptions")]


def test_nearest_descriptions_are_logged_each_epoch(tmp_path, demo_nsynth, stand_in_vectors):
    data = textual.datasets(demo_nsynth, batch_size=4, seed=0, word_vectors=stand_in_vectors)
    model = textual.build(stand_in_backbone(), word_vectors=stand_in_vectors)
    run = run_directory.start(tmp_path / "run", {"objective": "textual"})
    [callback] = textual.tensorboard_callbacks(run, model, data)
    callback.set_model(model)
    for epoch in range(2):
        callback.on_epoch_end(epoch)
    callback.on_train_end()
    texts = logged_texts(run.logs / "validation")
    assert [step for step, _ in texts] == [0, 1]
    header, rule, *rows = texts[0][1].splitlines()
    assert header == "| validation note | its qualities | nearest descriptions |"
    assert len(rows) == textual.LOGGED_EXAMPLES
    words = nsynth.word_map()
    notes = list(json.loads((demo_nsynth / "nsynth-valid" / "examples.json").read_text()).values())
    for index, row in enumerate(rows):
        _, note, described, nearest, _ = row.split("|")
        assert note.strip() == notes[index]["note_str"]
        assert described.strip() == (", ".join(words[q] for q in notes[index]["qualities_str"]) or "(none)")
        ranked = [entry.rsplit(" (", 1) for entry in nearest.strip().split(", ")]
        assert len(ranked) == textual.LOGGED_DESCRIPTIONS and {word for word, _ in ranked} <= set(words.values())
        assert [float(cosine[:-1]) for _, cosine in ranked] == sorted((float(c[:-1]) for _, c in ranked), reverse=True)
