"""Per-instrument scores over annotated entries, as OpenMIC-2018 is scored.

For each instrument, only its annotated clips (``y_mask``) count; a clip is
positive where ``y_true >= 0.5`` and predicted positive where its
probability is ``>= threshold`` (0.5). Then:

``f1``
    F1 of the two classes (present, absent), averaged: scikit-learn's
    ``f1_score(average="macro")`` on that instrument's annotated entries.
``precision``, ``recall``
    Likewise macro-averaged over present and absent. A class never
    predicted has precision 0 (scikit-learn's ``zero_division=0``).
``average_precision``
    The average precision of the probabilities (:func:`average_precision`,
    equal to scikit-learn's ``average_precision_score``); their mean over
    instruments is the masked mAP of PaSST and EfficientAT
    (``sample_weight = Y_mask``).
``support_positive``, ``support_negative``
    Annotated clips where the instrument is present, absent.

An instrument whose annotated entries do not hold both classes (none
annotated, only positives or only negatives) cannot be scored: its four
scores are NaN and it is left out of the means. ``overall`` holds the mean
of each score over the scored instruments (the overall F1-macro; the mean
average precision), NaN when none is scored, and the summed supports.

API
---
``instrument_scores(y_true, y_mask, y_prob, class_names, threshold=0.5) -> dict``
    ``{instrument: {score: value}, ..., "overall": {score: value}}``, in
    class order, values plain floats and ints (JSON-ready).
``Validation(validation_data, class_names)``
    A keras callback that predicts the validation set once after each epoch
    and writes ``val_loss``, ``val_f1_macro`` and ``val_f1_<instrument>``
    into the epoch's logs: fit then needs no ``validation_data`` of its own.
"""

import math

import keras
import numpy as np

from airtf.classify.attention import BATCH_SIZE, MaskedBinaryCrossentropy, pack_targets, THRESHOLD, unpack_targets

OVERALL = "overall"
SCORES = ("f1", "precision", "recall", "average_precision")
SUPPORTS = ("support_positive", "support_negative")
COLUMNS = SCORES + SUPPORTS


def _ratio(numerator, denominator):
    return numerator / denominator if denominator else 0.0


def _macro_scores(actual, predicted):
    """F1, precision and recall macro-averaged over present and absent."""
    true_positives = np.sum(actual & predicted)
    false_positives = np.sum(~actual & predicted)
    false_negatives = np.sum(actual & ~predicted)
    true_negatives = np.sum(~actual & ~predicted)
    errors = false_positives + false_negatives
    return {
        "f1": (_ratio(2 * true_positives, 2 * true_positives + errors)
               + _ratio(2 * true_negatives, 2 * true_negatives + errors)) / 2,
        "precision": (_ratio(true_positives, true_positives + false_positives)
                      + _ratio(true_negatives, true_negatives + false_negatives)) / 2,
        "recall": (_ratio(true_positives, true_positives + false_negatives)
                   + _ratio(true_negatives, true_negatives + false_positives)) / 2,
    }


def average_precision(actual, probabilities):
    """Average precision of probabilities for bool truth, as scikit-learn's ``average_precision_score``.

    The precision at each distinct probability (from the highest down),
    weighted by the recall it adds: sum of (R_k - R_k-1) P_k. Written
    with numpy, so that the thousands of resampled scores of
    :mod:`airtf.classify.statistics` take seconds.
    """
    order = np.argsort(-np.asarray(probabilities), kind="mergesort")
    ranked, hits = np.asarray(probabilities)[order], np.asarray(actual, bool)[order]
    last_of_each = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]
    true_positives = np.cumsum(hits)[last_of_each]
    precision = true_positives / (last_of_each + 1)
    recall = true_positives / true_positives[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def _one_instrument(actual, probabilities, threshold):
    """Scores of one instrument from its annotated entries (bool truth, probabilities)."""
    supports = {"support_positive": int(actual.sum()), "support_negative": int((~actual).sum())}
    if not (supports["support_positive"] and supports["support_negative"]):
        return {**{name: math.nan for name in SCORES}, **supports}
    scores = _macro_scores(actual, probabilities >= threshold)
    scores["average_precision"] = average_precision(actual, probabilities)
    return {**{name: float(scores[name]) for name in SCORES}, **supports}


def _overall(per_instrument):
    scored = [scores for scores in per_instrument if not math.isnan(scores["f1"])]
    means = {name: float(np.mean([scores[name] for scores in scored])) if scored else math.nan for name in SCORES}
    sums = {name: sum(scores[name] for scores in per_instrument) for name in SUPPORTS}
    return {**means, **sums}


def instrument_scores(y_true, y_mask, y_prob, class_names, threshold=THRESHOLD):
    """Score predictions per instrument over annotated entries (see the module docstring).

    Parameters
    ----------
    y_true : array (N, C)
        Relevance; positive where >= 0.5.
    y_mask : array (N, C)
        bool, True where annotated.
    y_prob : array (N, C)
        Predicted probabilities.
    class_names : sequence of str
        C instrument names, in column order.
    threshold : float or array (C,)
        Probabilities at or above it are predicted present (one per instrument: see :func:`tuned_thresholds`).

    Returns
    -------
    dict
        ``{name: {"f1", "precision", "recall", "average_precision",
        "support_positive", "support_negative"}}`` per instrument, then
        ``"overall"`` with the means and summed supports.
    """
    y_true, y_mask, y_prob = (np.asarray(array) for array in (y_true, y_mask, y_prob))
    class_names = list(class_names)
    if not y_true.shape == y_mask.shape == y_prob.shape == (len(y_true), len(class_names)):
        raise ValueError(f"y_true {y_true.shape}, y_mask {y_mask.shape} and y_prob {y_prob.shape} must all be "
                         f"(clips, {len(class_names)}), one column per class name")
    if OVERALL in class_names:
        raise ValueError(f"{OVERALL!r} is reserved for the means; rename that class")
    annotated = y_mask.astype(bool)
    thresholds = np.broadcast_to(np.asarray(threshold, np.float64), (len(class_names),))
    per_instrument = [_one_instrument(y_true[annotated[:, i], i] >= THRESHOLD, y_prob[annotated[:, i], i],
                                      thresholds[i]) for i in range(len(class_names))]
    return {**dict(zip(class_names, per_instrument)), OVERALL: _overall(per_instrument)}


TUNING_GRID = np.round(np.arange(0.05, 1.0, 0.05), 2)
"""Thresholds tried per instrument: 0.05, 0.10, ..., 0.95."""


def tuned_thresholds(y_true, y_mask, y_prob):
    """Per instrument, the threshold of :data:`TUNING_GRID` with the best F1-macro on these (validation) clips.

    Ties go to the threshold nearest 0.5; an instrument these clips cannot
    score (annotated all present or all absent) keeps 0.5. Returns (C,) float64.
    """
    y_true, y_mask, y_prob = (np.asarray(array) for array in (y_true, y_mask, y_prob))
    nearest_first = sorted(TUNING_GRID, key=lambda value: (abs(value - THRESHOLD), value))
    thresholds = np.full(y_true.shape[1], THRESHOLD)
    for i in range(y_true.shape[1]):
        annotated = y_mask[:, i].astype(bool)
        actual, probabilities = y_true[annotated, i] >= THRESHOLD, y_prob[annotated, i]
        if actual.all() or not actual.any():
            continue
        scores = [_macro_scores(actual, probabilities >= value)["f1"] for value in nearest_first]
        thresholds[i] = nearest_first[int(np.argmax(scores))]
    return thresholds


def _labels(targets):
    """``(y_true, y_mask)`` as numpy from packed targets ``(y,)`` or from ``(y_true, y_mask)``."""
    targets = [np.asarray(target) for target in targets]
    return unpack_targets(targets[0]) if len(targets) == 1 else tuple(targets)


class Validation(keras.callbacks.Callback):
    """One pass over the validation set after each epoch: its loss and its scores per instrument, into the logs.

    Adds ``val_loss`` (:class:`airtf.classify.attention.MaskedBinaryCrossentropy`
    over all the annotated validation entries at once), ``val_f1_macro``
    (the overall F1-macro), ``val_f1_<instrument>`` (NaN where the
    validation split cannot score it) and ``val_f1_instruments_scored`` to
    the epoch's logs, and keeps the full :func:`instrument_scores` of the
    last epoch in :attr:`scores`. Fit the model without ``validation_data``:
    Keras would predict the set a second time. Keras hands one logs dict to
    the callbacks in list order, so put this callback before those that read
    it (ModelCheckpoint or EarlyStopping with ``monitor="val_f1_macro",
    mode="max"``, CSVLogger, :class:`airtf.runs.summaries.EpochScalars`, which
    draws them in TensorBoard).

    Parameters
    ----------
    validation_data : tuple or iterable
        Arrays ``(x, y)`` with packed targets (as fit takes, see
        :func:`airtf.classify.attention.pack_targets`) or ``(x, y_true, y_mask)``,
        predicted in batches of 128; or an iterable of such batches (a
        batched tf.data.Dataset).
    class_names : sequence of str
        Instrument names in column order.
    """

    def __init__(self, validation_data, class_names):
        super().__init__()
        self.validation_data = validation_data
        self.class_names = list(class_names)
        self.loss = MaskedBinaryCrossentropy()
        self.scores = None

    def _predict(self):
        """``(y_true, y_mask, y_prob)`` of the whole validation set."""
        if isinstance(self.validation_data, tuple):
            x, *targets = self.validation_data
            return (*_labels(targets), self.model.predict(np.asarray(x), batch_size=BATCH_SIZE, verbose=0))
        batches = [(*_labels(targets), np.asarray(self.model.predict_on_batch(np.asarray(x))))
                   for x, *targets in self.validation_data]
        return tuple(np.concatenate(parts) for parts in zip(*batches))

    def on_epoch_end(self, epoch, logs=None):
        y_true, y_mask, y_prob = self._predict()
        self.scores = instrument_scores(y_true, y_mask, y_prob, self.class_names)
        f1 = {name: self.scores[name]["f1"] for name in self.class_names}
        if logs is not None:
            loss = self.loss(pack_targets(np.asarray(y_true, np.float32), np.asarray(y_mask)), y_prob)
            logs["val_loss"] = float(keras.ops.convert_to_numpy(loss))
            logs["val_f1_macro"] = self.scores[OVERALL]["f1"]
            logs.update({f"val_f1_{name}": value for name, value in f1.items()})
            logs["val_f1_instruments_scored"] = sum(1 for value in f1.values() if not np.isnan(value))
