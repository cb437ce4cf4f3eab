"""Pre-training objectives: one module each, all following one contract.

Each objective module (textual, denoising, align) defines:

``class <Objective>(keras.Model)``
    Wraps the VGGish backbone (``self.backbone``, a keras.Model taking
    (batch, 96, 64) log-mel and giving (batch, 128)) with the objective's head,
    corruption and loss. Model code uses keras.layers and keras.ops only, so
    it also runs under the JAX backend. It computes its own loss (train_step
    and test_step, or compute_loss), is compiled by the caller with only an
    optimizer (``model.compile(optimizer=...)``), and reports ``loss`` (plus
    any extra metrics) in its logs, so ``val_loss`` is available to early
    stopping.
``build(backbone, **options) -> <Objective>``
    The model with its head, options from the command line (defaults from
    the paper).
``datasets(data_dir, *, batch_size, seed, limit=None, **options) -> Datasets``
    The training and validation tf.data pipelines read from ``data_dir`` in
    its released layout (NSynth for textual and den-*, Freesound tags for
    align), batched, and an ``info`` dict (e.g. family names for the
    TensorBoard projector).
``tensorboard_callbacks(run, model, datasets) -> list``
    The objective's own TensorBoard views (images of log-mel for den-*, the
    nearest description of validation notes for textual).

:data:`OBJECTIVES` maps the command-line name to the module.
"""

import collections
import importlib

Datasets = collections.namedtuple("Datasets", ["train", "validation", "info"])
"""What an objective's ``datasets`` returns."""

OBJECTIVES = {
    "textual": ("textual", {}),
    "den-add": ("denoising", {"noise": "additive"}),
    "den-mul": ("denoising", {"noise": "multiplicative"}),
    "align": ("align", {}),
}
"""Command-line name -> (module in this package, options the name fixes)."""


def load(name):
    """The module of the objective called ``name`` on the command line, imported now.

    Parameters
    ----------
    name : str
        A key of :data:`OBJECTIVES`.

    Returns
    -------
    module : the objective's module, following the contract above.
    fixed_options : dict
        Options that ``name`` implies (e.g. ``noise="additive"`` for den-add),
        for the module's ``build``.

    Raises
    ------
    KeyError
        ``name`` is not a key of :data:`OBJECTIVES`.
    """
    module_name, fixed_options = OBJECTIVES[name]
    return importlib.import_module(f"{__name__}.{module_name}"), dict(fixed_options)
