"""Intervals and paired tests of airtf-compare, against direct computations on fixed predictions."""

import itertools

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score

from airtf.classify import metrics, statistics
from airtf.classify.statistics import Predictions

INSTRUMENTS = 4


def fixed_clips(count, seeds=1, skill=1.0, seed=0):
    """Labels of ``count`` clips (about half annotated) and predictions that follow them with ``skill``."""
    rng = np.random.default_rng(seed)
    y_true = (rng.random((count, INSTRUMENTS)) < 0.5).astype(np.float32)
    y_mask = rng.random((count, INSTRUMENTS)) < 0.7
    noise = rng.random((seeds, count, INSTRUMENTS))
    y_prob = np.clip(skill * y_true[None] + (1 - skill) * noise + 0.2 * (noise - 0.5), 0, 1).astype(np.float32)
    return Predictions(tuple(f"{index:06d}_0" for index in range(count)), y_true, y_mask, y_prob)


def direct_scores(y_true, y_mask, y_prob):
    """Overall F1-macro and masked mAP written directly with scikit-learn, per the two conventions."""
    f1s, aps = [], []
    for column in range(y_true.shape[1]):
        annotated = y_mask[:, column].astype(bool)
        actual = y_true[annotated, column] >= 0.5
        if actual.all() or not actual.any():
            continue
        f1s.append(f1_score(actual, y_prob[annotated, column] >= 0.5, average="macro", zero_division=0))
        aps.append(average_precision_score(y_true[:, column] >= 0.5, y_prob[:, column],
                                           sample_weight=y_mask[:, column].astype(float)))
    return np.array([np.mean(f1s) if f1s else np.nan, np.mean(aps) if aps else np.nan])


def test_average_precision_is_scikit_learns_ties_included():
    rng = np.random.default_rng(1)
    for _ in range(200):
        count = int(rng.integers(2, 50))
        actual = rng.random(count) < 0.4
        if actual.all() or not actual.any():
            continue
        probabilities = np.round(rng.random(count), int(rng.integers(1, 3)))  # many ties
        assert metrics.average_precision(actual, probabilities) == pytest.approx(
            average_precision_score(actual, probabilities), abs=1e-12)


def test_the_statistic_is_both_conventions_averaged_over_seeds():
    clips = fixed_clips(40, seeds=3, skill=0.3)
    expected = np.mean([direct_scores(clips.y_true, clips.y_mask, prob) for prob in clips.y_prob], axis=0)
    np.testing.assert_allclose(statistics.statistic(clips), expected, rtol=1e-12)


@pytest.mark.slow
def test_the_bootstrap_interval_is_the_percentiles_of_resampled_scores():
    clips = fixed_clips(30, seeds=2, skill=0.3, seed=2)
    rng = np.random.default_rng(0)
    resampled = []
    for _ in range(200):
        rows = rng.integers(0, 30, 30)
        resampled.append(np.mean([direct_scores(clips.y_true[rows], clips.y_mask[rows], prob[rows])
                                  for prob in clips.y_prob], axis=0))
    resampled = np.array(resampled)
    intervals = statistics.bootstrap_interval(clips, resamples=200, level=0.9, seed=0)
    for column, score in enumerate(statistics.SCORES):
        values = resampled[~np.isnan(resampled[:, column]), column]
        np.testing.assert_allclose(intervals[score], np.percentile(values, [5, 95]), rtol=1e-12)
        assert intervals[score][0] < statistics.statistic(clips)[column] < intervals[score][1]


@pytest.mark.slow
def test_the_paired_test_approaches_the_exact_permutation_p_value():
    first, second = fixed_clips(10, skill=0.35, seed=3), fixed_clips(10, skill=0.15, seed=3)
    observed = statistics.statistic(first) - statistics.statistic(second)
    differences = []
    for swaps in itertools.product([False, True], repeat=10):  # every assignment: the exact test
        swap = np.array(swaps)[None, :, None]
        left = np.where(swap, second.y_prob, first.y_prob)[0]
        right = np.where(swap, first.y_prob, second.y_prob)[0]
        differences.append(direct_scores(first.y_true, first.y_mask, left)
                           - direct_scores(first.y_true, first.y_mask, right))
    exact = (np.abs(np.array(differences)) >= np.abs(observed) - 1e-12).mean(axis=0)
    results = statistics.paired_test(first, second, resamples=4000, seed=0)
    for column, score in enumerate(statistics.SCORES):
        difference, p = results[score]
        assert difference == pytest.approx(observed[column])
        assert abs(p - exact[column]) < 0.03, (score, p, exact[column])  # Monte Carlo error: about 0.008


def test_the_paired_test_tells_a_real_difference_and_not_a_null_one():
    good, poor = fixed_clips(80, seeds=2, skill=0.8, seed=4), fixed_clips(80, seeds=2, skill=0.0, seed=4)
    results = statistics.paired_test(good, poor, resamples=300)
    assert all(difference > 0 and p <= 1 / 301 for difference, p in results.values())
    same = statistics.paired_test(good, good, resamples=100)
    assert all(difference == 0 and p == 1 for difference, p in same.values())


def test_runs_on_other_clips_or_seeds_are_not_paired():
    clips = fixed_clips(10, seeds=2)
    with pytest.raises(ValueError, match="different clips"):
        statistics.paired_test(clips, Predictions(clips.keys[::-1], clips.y_true, clips.y_mask, clips.y_prob))
    with pytest.raises(ValueError, match="2 and 1 seeds"):
        statistics.paired_test(clips, Predictions(clips.keys, clips.y_true, clips.y_mask, clips.y_prob[:1]))
