"""Stage two: the attention classifier on OpenMIC-2018, its scores and their comparison.

``attention``
    The attention classifier and its masked loss.
``metrics``
    OpenMIC-2018 scores (F1-macro and average precision per instrument over annotated clips).
``statistics``
    Bootstrap intervals over test clips and paired permutation tests between runs.
``evaluate``
    airtf-eval: features, split, training over seeds, scores, TensorBoard.
``compare``, ``reporting``, ``figures``
    airtf-compare, the score files both write, and their plots.

May import: airtf.params, airtf.errors, airtf.support, airtf.datasets, airtf.features, airtf.runs.
"""
