"""Pre-training objectives: one package each, every objective a registered class (see ``base``).

Every subpackage is an objective package: its ``__init__`` registers its
:class:`~airtf.pretrain.objectives.base.Objective` classes by their command-line names
and declares their configs without importing Keras, and its ``model``
module builds them (Keras, tf.data). The plain modules here (``base``,
``batching``, ``notes``) are what the objectives share. Listing the
objectives imports the ``__init__`` files only, so ``airtf-pretrain --help``
needs no Keras. Adding an objective is adding a package.
"""

import importlib
import pkgutil

from airtf.pretrain.objectives.base import Datasets, Objective, ObjectiveError, option, register, REGISTRY

__all__ = ["Datasets", "Objective", "ObjectiveError", "classes", "get", "option", "register"]


def classes():
    """Command-line name -> objective class, for every objective package (its ``__init__`` imported now)."""
    for module in pkgutil.iter_modules(__path__):
        if module.ispkg:
            importlib.import_module(f"{__name__}.{module.name}")
    return dict(REGISTRY)


def get(name, **options):
    """The objective called ``name`` on the command line, with ``options``.

    Raises
    ------
    ObjectiveError
        An unknown name, or an option the objective does not take.
    """
    known = classes()
    if name not in known:
        raise ObjectiveError(f"unknown objective {name!r}; choose one of {', '.join(known)}")
    return known[name](**options)
