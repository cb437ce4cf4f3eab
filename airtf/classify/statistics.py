"""How sure a comparison is: intervals over test clips, and a paired test between two feature sets.

Both OpenMIC-2018 conventions are scored (:mod:`airtf.classify.metrics`):
``f1`` is the cosmir/Gururani overall F1-macro (per instrument over its
annotated clips, present and absent averaged, threshold 0.5, then the mean
over instruments), ``average_precision`` the masked mean average precision
of PaSST and EfficientAT (per instrument scikit-learn's average precision
with ``sample_weight = Y_mask``, then the mean). An instrument that a set of
clips cannot score (its annotated clips all of one class) is left out of
that set's mean, as in the reports.

A run's statistic is the mean over its seeds of the overall score on the
test clips, each seed's predictions scored on the same clips.

``bootstrap_interval``
    The percentile interval of that statistic over resamplings of the test
    clips with replacement (the same resampled clips for every seed).
``paired_test``
    A paired permutation test over test clips of two runs on the same clips:
    under the null hypothesis that the two feature sets predict alike, the
    two runs' predictions of a clip may be swapped; each resampling swaps
    every clip with probability 1/2 (for all seeds at once, seed i of one
    run paired with seed i of the other) and the two-sided p-value is the
    share of resamplings whose difference is at least as large as the one
    observed, counting the observed one (so never 0).
"""

import dataclasses

import numpy as np

from airtf.classify import metrics

SCORES = ("f1", "average_precision")
"""The two conventions: overall F1-macro (cosmir/Gururani), masked mAP (PaSST/EfficientAT)."""
RESAMPLES = 1000
LEVEL = 0.95
SIGNIFICANCE = 0.05


@dataclasses.dataclass(frozen=True)
class Predictions:
    """A run's test clips: labels once, and each seed's predicted probabilities.

    Attributes
    ----------
    keys : tuple of str
    y_true, y_mask : np.ndarray (N, C)
    y_prob : np.ndarray (S, N, C)
        One (N, C) array per seed, in the order of the run's seeds.
    """

    keys: tuple
    y_true: np.ndarray
    y_mask: np.ndarray
    y_prob: np.ndarray


def statistic(clips, rows=None):
    """The mean over seeds of each overall score (:data:`SCORES`) on the test clips ``rows`` (all by default).

    Returns
    -------
    np.ndarray
        One value per score, in the order of :data:`SCORES`.
    """
    rows = slice(None) if rows is None else rows
    names = [str(index) for index in range(clips.y_true.shape[1])]
    overall = [metrics.instrument_scores(clips.y_true[rows], clips.y_mask[rows], prob[rows], names)[metrics.OVERALL]
               for prob in clips.y_prob]
    return np.array([[scores[score] for score in SCORES] for scores in overall]).mean(axis=0)


def bootstrap_interval(clips, resamples=RESAMPLES, level=LEVEL, seed=0):
    """The ``level`` percentile interval of :func:`statistic` over ``resamples`` bootstrap resamplings of the clips.

    Returns
    -------
    dict
        Score -> (low, high); NaN where fewer than half the resamplings
        could score any instrument.
    """
    rng = np.random.default_rng(seed)
    count = len(clips.keys)
    values = np.array([statistic(clips, rng.integers(0, count, count)) for _ in range(resamples)])
    tail = (1 - level) / 2 * 100
    intervals = {}
    for column, score in enumerate(SCORES):
        scored = values[~np.isnan(values[:, column]), column]
        ends = np.percentile(scored, [tail, 100 - tail]) if len(scored) >= resamples / 2 else (np.nan, np.nan)
        intervals[score] = tuple(float(end) for end in ends)
    return intervals


def paired_test(first, second, resamples=RESAMPLES, seed=0):
    """The paired permutation test over test clips of two runs (see the module docstring).

    Parameters
    ----------
    first, second : Predictions
        The same clips, in the same order, with as many seeds each.

    Returns
    -------
    dict
        Score -> (the observed difference of :func:`statistic`, first minus
        second; its two-sided p-value).
    """
    if first.keys != second.keys:
        raise ValueError("the two runs were tested on different clips; compare runs on one split")
    if first.y_prob.shape != second.y_prob.shape:
        raise ValueError(f"the runs have {len(first.y_prob)} and {len(second.y_prob)} seeds; pair runs of as many "
                         "seeds")
    observed = statistic(first) - statistic(second)
    rng = np.random.default_rng(seed)
    at_least = np.ones(len(SCORES))
    for _ in range(resamples):
        swap = (rng.random(len(first.keys)) < 0.5)[None, :, None]
        left = dataclasses.replace(first, y_prob=np.where(swap, second.y_prob, first.y_prob))
        right = dataclasses.replace(second, y_prob=np.where(swap, first.y_prob, second.y_prob))
        at_least += np.abs(statistic(left) - statistic(right)) >= np.abs(observed) - 1e-12
    return {score: (float(observed[column]), float(at_least[column] / (resamples + 1)))
            for column, score in enumerate(SCORES)}
