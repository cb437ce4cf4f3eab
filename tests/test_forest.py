"""The cosmir baseline (airtf-eval --classifier random-forest) against scikit-learn written out directly."""

import json

import numpy as np
import pytest

from airtf.classify import forest, metrics
from airtf.cli import compare as compare_cli, eval as eval_cli, export as export_cli
from test_evaluate import CLASSES, eval_args, write_release


def baseline_predictions(x, y_true, y_mask, x_test, seed):
    """The published recipe, written out: per instrument, a forest on the annotated clips' time averages."""
    from sklearn.ensemble import RandomForestClassifier

    train, test = x.mean(axis=1), x_test.mean(axis=1)
    predicted = np.zeros((len(x_test), y_true.shape[1]), bool)
    for instrument in range(y_true.shape[1]):
        annotated = y_mask[:, instrument]
        classifier = RandomForestClassifier(max_depth=8, n_estimators=100, random_state=seed)
        classifier.fit(train[annotated], y_true[annotated, instrument] >= 0.5)
        predicted[:, instrument] = classifier.predict(test)
    return predicted


def test_forests_predict_as_the_published_recipe():
    rng = np.random.default_rng(0)
    x = rng.random((80, 10, 16))
    y_true = rng.choice([0.0, 0.2, 0.8, 1.0], (80, 4))
    x[:, :, 0] += y_true[:, None, 0]  # instrument 0 is audible in feature 0
    y_mask = rng.random((80, 4)) < 0.7
    x_test = rng.random((30, 10, 16))
    for seed in (0, 7):
        probabilities = forest.probabilities(forest.fit(x, y_true, y_mask, seed), x_test)
        assert probabilities.shape == (30, 4) and probabilities.dtype == np.float32
        np.testing.assert_array_equal(probabilities >= 0.5, baseline_predictions(x, y_true, y_mask, x_test, seed))


def test_an_instrument_annotated_with_one_class_gets_a_constant():
    y_true = np.array([[1.0, 0.0], [0.8, 1.0], [1.0, 0.0]])
    probabilities = forest.probabilities(forest.fit(np.ones((3, 2, 3)), y_true, np.ones((3, 2), bool)),
                                         np.zeros((2, 2, 3)))
    assert probabilities[:, 0].tolist() == [1.0, 1.0]


@pytest.mark.slow
def test_airtf_eval_random_forest_writes_scores_and_predictions(tmp_path, capsys):
    data = write_release(tmp_path / "openmic")
    out = tmp_path / "rf"
    assert eval_cli.main(eval_args(data, out, "--seeds", "0,1", "--classifier", "random-forest",
                                   "--thresholds", "tuned")) == 0
    printed = capsys.readouterr().out
    assert "random forests: test scores over seeds 0, 1" in printed and "forests are not kept" in printed
    assert "threshold tuned on the validation split" in printed
    assert not (out / "attention.keras").exists()
    summary = json.loads((out / "scores.json").read_text())
    predictions = np.load(out / "seed-0" / "test_predictions.npz")
    rescored = metrics.instrument_scores(predictions["y_true"], predictions["y_mask"], predictions["y_prob"], CLASSES)
    assert summary["seeds"]["0"]["test"]["overall"]["f1"] == pytest.approx(rescored["overall"]["f1"])
    assert summary["seeds"]["0"]["test"]["overall"]["f1"] > 0.7  # the synthetic features show the instruments
    tuned = summary["seeds"]["0"]["tuned_thresholds"]
    expected = metrics.instrument_scores(predictions["y_true"], predictions["y_mask"], predictions["y_prob"], CLASSES,
                                         [tuned[name] for name in CLASSES])
    assert summary["seeds"]["0"]["test_tuned"]["overall"]["f1"] == pytest.approx(expected["overall"]["f1"])
    assert "tuned" in summary and set(tuned) == set(CLASSES)
    assert export_cli.main([str(out), "--out", str(tmp_path / "export")]) == 2
    assert "a random-forest run keeps no model to export" in capsys.readouterr().err
    attention = tmp_path / "attention"
    assert eval_cli.main(eval_args(data, attention, "--seeds", "0,1")) == 0
    assert compare_cli.main([str(out), str(attention), "--out", str(tmp_path / "compare"), "--resamples", "200"]) == 0
    assert "rf vs attention: F1-macro" in capsys.readouterr().out
