"""Pre-training objectives: one module each, every objective a registered class (see ``base``).

Every module of this package but ``base``, ``batching`` and ``notes`` (what
the objectives share) is an objective module: it is imported when the objectives are first listed, and registers
its :class:`~airtf.objectives.base.Objective` classes by their command-line
names. Adding an objective is adding a module.
"""

import importlib
import pkgutil

from airtf.objectives.base import REGISTRY, Datasets, Objective, ObjectiveError, option, register

__all__ = ["Datasets", "Objective", "ObjectiveError", "classes", "get", "option", "register"]

_SUPPORT_MODULES = ("base", "batching", "notes")


def classes():
    """Command-line name -> objective class, for every objective module of the package (imported now)."""
    for module in pkgutil.iter_modules(__path__):
        if module.name not in _SUPPORT_MODULES and not module.name.startswith("_"):
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
