"""Per-instrument scores against scikit-learn, edge cases, reports and the validation callback."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score

from airtf.classify import attention, figures, metrics, reporting
from airtf.runs import summaries

NAMES = [f"instrument_{i}" for i in range(8)]


def random_labels(clips=300, classes=len(NAMES), seed=0):
    """Relevances (0.5 where unannotated), a mask, and probabilities (some exactly at the threshold)."""
    rng = np.random.default_rng(seed)
    y_mask = rng.random((clips, classes)) < 0.3
    y_true = np.where(y_mask, rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], (clips, classes)), 0.5)
    y_prob = rng.random((clips, classes))
    y_prob[rng.random((clips, classes)) < 0.05] = 0.5
    return y_true, y_mask, y_prob


def sklearn_scores(y_true, y_mask, y_prob, column):
    annotated = y_mask[:, column]
    actual = y_true[annotated, column] >= 0.5
    probabilities = y_prob[annotated, column]
    predicted = probabilities >= 0.5
    return {
        "f1": f1_score(actual, predicted, average="macro", zero_division=0),
        "precision": precision_score(actual, predicted, average="macro", zero_division=0),
        "recall": recall_score(actual, predicted, average="macro", zero_division=0),
        "average_precision": average_precision_score(actual, probabilities),
        "support_positive": int(actual.sum()),
        "support_negative": int((~actual).sum()),
    }


@pytest.mark.parametrize("seed", range(4))
def test_scores_equal_sklearn(seed):
    y_true, y_mask, y_prob = random_labels(seed=seed)
    if seed == 3:
        y_prob[:, 0] = 0.9  # a class never predicted: precision 0 for it, as zero_division=0
    scores = metrics.instrument_scores(y_true, y_mask, y_prob, NAMES)
    assert list(scores) == NAMES + ["overall"]
    expected = [sklearn_scores(y_true, y_mask, y_prob, column) for column in range(len(NAMES))]
    for name, reference in zip(NAMES, expected):
        assert scores[name] == pytest.approx(reference, abs=1e-12)
    for score in metrics.SCORES:
        assert scores["overall"][score] == pytest.approx(np.mean([reference[score] for reference in expected]))
    assert scores["overall"]["support_positive"] == sum(reference["support_positive"] for reference in expected)


def test_the_threshold_is_inclusive_and_adjustable():
    y_true = np.array([[1.0], [0.0], [1.0], [0.0]])
    y_mask = np.ones_like(y_true, dtype=bool)
    y_prob = np.array([[0.5], [0.4], [0.7], [0.3]])
    assert metrics.instrument_scores(y_true, y_mask, y_prob, ["a"])["a"]["f1"] == 1.0
    one_missed = (2 / 3 + 4 / 5) / 2  # present: 1 of 2 found; absent: 2 of 2 plus the missed one
    raised = metrics.instrument_scores(y_true, y_mask, y_prob, ["a"], threshold=0.65)
    assert raised["a"]["f1"] == pytest.approx(one_missed)


def test_unscorable_instruments_are_nan_and_left_out_of_the_means():
    y_true, y_mask, y_prob = random_labels(seed=5)
    y_mask[:, 0] = False  # no annotated entries
    y_true[:, 1] = 1.0  # only positives
    y_true[:, 2] = 0.0  # only negatives
    scores = metrics.instrument_scores(y_true, y_mask, y_prob, NAMES)
    for name in NAMES[:3]:
        assert all(math.isnan(scores[name][score]) for score in metrics.SCORES)
    assert (scores[NAMES[0]]["support_positive"], scores[NAMES[0]]["support_negative"]) == (0, 0)
    assert scores[NAMES[1]]["support_negative"] == 0 and scores[NAMES[1]]["support_positive"] > 0
    scored = metrics.instrument_scores(y_true[:, 3:], y_mask[:, 3:], y_prob[:, 3:], NAMES[3:])
    for score in metrics.SCORES:
        assert scores["overall"][score] == pytest.approx(scored["overall"][score])


def test_nothing_scorable_gives_nan_overall():
    y_true, y_mask, y_prob = random_labels(seed=6)
    scores = metrics.instrument_scores(y_true, np.zeros_like(y_mask), y_prob, NAMES)
    assert all(math.isnan(scores["overall"][score]) for score in metrics.SCORES)
    assert scores["overall"]["support_positive"] == 0


def test_bad_shapes_and_names_are_refused():
    y_true, y_mask, y_prob = random_labels()
    with pytest.raises(ValueError, match="one column per class name"):
        metrics.instrument_scores(y_true, y_mask, y_prob[:, :3], NAMES)
    with pytest.raises(ValueError, match="one column per class name"):
        metrics.instrument_scores(y_true, y_mask, y_prob, NAMES[:3])
    with pytest.raises(ValueError, match="reserved"):
        metrics.instrument_scores(y_true, y_mask, y_prob, NAMES[:-1] + ["overall"])


def test_scores_print_as_one_aligned_table_nan_as_n_a():
    y_true, y_mask, y_prob = random_labels(seed=7)
    y_mask[:, 0] = False
    scores = metrics.instrument_scores(y_true, y_mask, y_prob, NAMES)
    rows = [[name, *(values[column] for column in metrics.COLUMNS)] for name, values in scores.items()]
    *lines, note = reporting.text_table(["instrument", *metrics.COLUMNS], rows).splitlines()
    assert lines[0].split() == ["instrument", *metrics.COLUMNS]
    assert len({len(line) for line in lines}) == 1
    assert lines[-1].startswith("overall") and f"{scores['overall']['f1']:.3f}" in lines[-1]
    assert set(lines[1]) == {"-"} and set(lines[-2]) == {"-"}  # the overall row is set off by a rule
    assert "n/a" in lines[2]
    assert note == reporting.UNSCORED_NOTE  # explained where it appears


def test_a_table_without_n_a_has_no_note_and_one_seed_no_spread():
    table = reporting.text_table(["instrument", "f1"], [["piano", reporting.mean_std(0.5, 0.0, seeds=1)],
                                                        ["overall", reporting.mean_std(0.5, 0.1, seeds=2)]])
    assert table.splitlines()[-1].split() == ["overall", "0.500", "±", "0.100"]
    assert table.splitlines()[2].split() == ["piano", "0.500"] and reporting.UNSCORED_NOTE not in table


def event_tags(log_dir):
    return {value.tag for path in log_dir.glob("events.out.tfevents.*")
            for event in tf.compat.v1.train.summary_iterator(str(path)) for value in event.summary.value}


@pytest.mark.slow
def test_validation_feeds_the_logs_checkpoints_and_tensorboard(tmp_path):
    keras.utils.set_random_seed(0)
    classes = NAMES[:4]
    x = np.random.default_rng(0).random((256, 5, 16), dtype=np.float32)
    y_true, y_mask, _ = random_labels(clips=256, classes=4)
    y = attention.pack_targets(y_true.astype(np.float32), y_mask)
    model = attention.compile_classifier(attention.AttentionClassifier(num_classes=4, units=32, groups=8),
                                         jit_compile=False)
    validation = metrics.Validation((x[:96], y_true[:96], y_mask[:96]), classes)
    scalars = summaries.EpochScalars(tmp_path / "logs")
    checkpoint = keras.callbacks.ModelCheckpoint(str(tmp_path / "best.weights.h5"), monitor="val_f1_macro",
                                                 mode="max", save_best_only=True, save_weights_only=True)
    history = model.fit(x[96:], y[96:], epochs=2, batch_size=32, verbose=0,
                        callbacks=[validation, checkpoint, scalars])
    probabilities = model.predict(x[:96], verbose=0)
    expected = metrics.instrument_scores(y_true[:96], y_mask[:96], probabilities, classes)
    assert history.history["val_f1_macro"][-1] == pytest.approx(expected["overall"]["f1"])
    annotated = y_mask[:96]
    clipped = np.clip(probabilities[annotated], 1e-7, 1 - 1e-7)
    truth = y_true[:96][annotated] >= 0.5
    cross_entropy = -np.mean(np.where(truth, np.log(clipped), np.log(1 - clipped)))
    assert history.history["val_loss"][-1] == pytest.approx(cross_entropy, rel=1e-5)
    assert history.history[f"val_f1_{classes[1]}"][-1] == pytest.approx(expected[classes[1]]["f1"])
    for name, values in expected.items():
        assert validation.scores[name] == pytest.approx(values, nan_ok=True)
    assert (tmp_path / "best.weights.h5").is_file()
    scored = [name for name in classes if not np.isnan(expected[name]["f1"])]
    assert event_tags(tmp_path / "logs" / "validation") == {"loss", "f1/overall", "f1/instruments_scored",
                                                            *(f"f1/{name}" for name in scored)}
    assert history.history["val_f1_instruments_scored"][-1] == len(scored)


def test_validation_takes_a_batched_dataset_of_packed_targets():
    classes = NAMES[:4]
    x = np.random.default_rng(1).random((100, 5, 16), dtype=np.float32)
    y_true, y_mask, _ = random_labels(clips=100, classes=4, seed=1)
    model = attention.AttentionClassifier(num_classes=4, units=32, groups=8)
    model(x[:1])
    dataset = tf.data.Dataset.from_tensor_slices((x, attention.pack_targets(y_true.astype(np.float32), y_mask)))
    from_dataset = metrics.Validation(dataset.batch(32), classes)
    from_arrays = metrics.Validation((x, y_true, y_mask), classes)
    logs = [{}, {}]
    for callback, epoch_logs in zip((from_dataset, from_arrays), logs):
        callback.set_model(model)
        callback.on_epoch_end(0, epoch_logs)
    assert logs[0] == pytest.approx(logs[1], nan_ok=True)
    assert set(logs[0]) == {"val_loss", "val_f1_macro", "val_f1_instruments_scored",
                            *(f"val_f1_{name}" for name in classes)}


def test_instrument_figure_marks_n_a_keeps_error_bars_and_names_each_run():
    names = ["bass", "cello", "piano", "overall"]
    groups = {"logmel": ([0.5, math.nan, 0.97, 0.7], [0.1, 0.0, 0.08, 0.05]),
              "pca": ([0.4, 0.6, 0.9, 0.6], [0.1, 0.1, 0.02, 0.05])}
    figure = figures.instrument_figure(names, groups, "F1")
    axes = figure.axes[0]
    assert axes.get_ylim()[1] >= 0.97 + 0.08  # the error bar above 1 is not clipped
    marks = [text for text in axes.texts if text.get_text() == "n/a"]
    assert len(marks) == 1 and marks[0].get_position()[0] == pytest.approx(1 - 0.4 + 0.2)  # logmel's cello
    assert [text.get_text() for text in figure.texts] == [reporting.UNSCORED_NOTE]
    assert [text.get_text() for text in figure.legends[0].get_texts()] == ["logmel", "pca"]
    separator = [line for line in axes.lines if len(set(line.get_xdata())) == 1]
    ticks = axes.get_xticks()
    assert len(separator) == 1 and ticks[2] < separator[0].get_xdata()[0] < ticks[3]
    single = figures.instrument_figure(names[:1] + names[2:], {"logmel": ([0.5, 0.9, 0.7], [0.0] * 3)}, "F1")
    assert [text.get_text() for text in single.legends[0].get_texts()] == ["logmel"] and not single.texts


def test_box_figure_has_a_key_for_median_mean_and_seeds():
    figure = figures.box_figure({"logmel": [0.5, 0.6, 0.55], "pca": [0.4, math.nan, 0.45]}, "overall")
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert labels[:3] == ["median", "mean", "one seed"]
    assert [label.get_text() for label in figure.axes[0].get_xticklabels()] == ["logmel", "pca"]


@pytest.mark.filterwarnings("error")
def test_long_run_names_are_wrapped_and_keep_the_layout(tmp_path):
    long_name = "pretrained: VGGish of demo-out/pretrain/textual/vggish.weights.h5, min-max"
    box = figures.box_plot(tmp_path / "box.png", {long_name: [0.4, 0.42], "logmel": [0.5, 0.6]}, "overall")
    bars = figures.instrument_bars(tmp_path / "bars.png", ["bass", "overall"],
                                   {long_name: ([0.5, 0.5], [0.1, 0.1])}, "F1")
    assert box.stat().st_size > 0 and bars.stat().st_size > 0  # constrained layout warned, as an error, before
    figure = figures.box_figure({long_name: [0.4, 0.42]}, "overall")
    [label] = [label.get_text() for label in figure.axes[0].get_xticklabels()]
    assert "".join(label.split()) == "".join(long_name.split()) and max(map(len, label.splitlines())) <= 16


def test_attention_figure_names_rows_marks_labels_and_spans_the_clip_in_seconds():
    classes = NAMES[:4]
    attention_map = np.tile(np.arange(1.0, 11.0)[:, None], (1, 4)) * [1, 2, 3, 4]  # (10 frames, 4 classes)
    figure = figures.attention_figure(attention_map, classes, y_true=[1.0, 0.0, 0.8, 0.0],
                                      y_mask=[True, True, False, False], seconds=9.6, title="clip x")
    axes, colour_bar = figure.axes
    labels = [label.get_text() for label in axes.get_yticklabels()]
    assert labels == [f"{classes[0]} {figures.PRESENT}", f"{classes[1]} {figures.ABSENT}", classes[2], classes[3]]
    assert axes.get_xlim() == (0.0, 9.6) and axes.get_xlabel() == "time (s)"
    rows = axes.get_images()[0].get_array()
    np.testing.assert_allclose(rows.max(axis=1), 1.0)  # each row scaled to its own maximum
    np.testing.assert_allclose(rows[:, 0], 0.1)
    assert "attention" in colour_bar.get_ylabel()


def test_tuned_thresholds_maximise_each_instruments_validation_f1():
    y_true, y_mask, y_prob = random_labels(seed=5)
    y_prob[:, 1] = np.clip(y_prob[:, 1] * 0.3, 0, 1)  # instrument 1 is predicted too low: its best threshold is low
    thresholds = metrics.tuned_thresholds(y_true, y_mask, y_prob)
    for column in range(len(NAMES)):
        annotated = y_mask[:, column]
        actual = y_true[annotated, column] >= 0.5
        grid = np.round(np.arange(0.05, 1.0, 0.05), 2)
        f1 = [f1_score(actual, y_prob[annotated, column] >= value, average="macro", zero_division=0) for value in grid]
        assert f1_score(actual, y_prob[annotated, column] >= thresholds[column], average="macro",
                        zero_division=0) == pytest.approx(max(f1))
        best = grid[np.isclose(f1, max(f1))]
        assert abs(thresholds[column] - 0.5) == pytest.approx(np.abs(best - 0.5).min())  # ties: nearest 0.5
    assert thresholds[1] < 0.5


def test_per_instrument_thresholds_score_each_instrument_at_its_own():
    y_true, y_mask, y_prob = random_labels(seed=6)
    y_mask[:, 2] &= y_true[:, 2] >= 0.5  # instrument 2: only positives annotated, cannot be tuned
    thresholds = metrics.tuned_thresholds(y_true, y_mask, y_prob)
    assert thresholds[2] == 0.5
    scores = metrics.instrument_scores(y_true, y_mask, y_prob, NAMES, thresholds)
    for column, name in enumerate(NAMES):
        alone = metrics.instrument_scores(y_true, y_mask, y_prob, NAMES, float(thresholds[column]))[name]
        assert scores[name] == pytest.approx(alone, nan_ok=True)
