"""The cosmir baseline of OpenMIC-2018: one random forest per instrument on time-averaged features.

As the dataset's authors published it (the ``modeling-baseline`` notebook of
cosmir/openmic-2018): for each instrument, a
``RandomForestClassifier(max_depth=8, n_estimators=100, random_state=0)``
fitted on the training clips annotated for that instrument (present where
the relevance is at least 0.5), each clip its features averaged over time.
On the released features its overall F1-macro is 0.784, a check of one's
copy of the data. ``airtf-eval --classifier random-forest`` draws
``random_state`` from the seed (seed 0 is the baseline's).

The forests are never written to disk: scikit-learn saves them by pickle,
and a pickle runs code when read. A run keeps their scores and test
predictions.
"""

import numpy as np

from airtf.classify.attention import THRESHOLD

MAX_DEPTH = 8
TREES = 100


def clip_means(x):
    """(N, T, D) frame features -> (N, D) time averages, float64 as the baseline averages them."""
    return np.asarray(x, np.float64).mean(axis=1)


def fit(x, y_true, y_mask, seed=0):
    """One forest per instrument (a constant where its annotated clips hold one class only).

    Returns a list, per instrument, of a fitted RandomForestClassifier or the
    constant probability of a one-class instrument (nan without any annotated clip).
    """
    from sklearn.ensemble import RandomForestClassifier

    means = clip_means(x)
    forests = []
    for instrument in range(y_true.shape[1]):
        annotated = np.asarray(y_mask[:, instrument], bool)
        present = y_true[annotated, instrument] >= THRESHOLD
        if len(np.unique(present)) < 2:
            forests.append(float(present[0]) if len(present) else np.nan)
            continue
        forest = RandomForestClassifier(max_depth=MAX_DEPTH, n_estimators=TREES, random_state=seed)
        forests.append(forest.fit(means[annotated], present))
    return forests


def probabilities(forests, x):
    """(N, C) probability that each instrument is present, float32.

    A probability of exactly 0.5 is lowered by one float step: scikit-learn's
    ``predict`` calls such a tie absent, and the scores threshold at ``>= 0.5``.
    """
    means = clip_means(x)
    columns = [np.full(len(means), forest) if not hasattr(forest, "predict_proba")
               else forest.predict_proba(means)[:, list(forest.classes_).index(True)] for forest in forests]
    result = (np.stack(columns, axis=1) if columns else np.zeros((len(means), 0))).astype(np.float32)
    return np.where(result == THRESHOLD, np.nextafter(np.float32(THRESHOLD), np.float32(0)), result)
