"""Keep the optional imports Keras makes at its own import out of airtf's commands.

Keras (which TensorFlow 2.21 imports eagerly) imports scikit-learn for its
scikit-learn wrappers and matplotlib's pyplot for its image galleries whenever
they are installed: about 0.8 s and 0.35 s of every command's start-up here
(``python -X importtime``), and airtf's commands use neither. The finder of
:func:`keras_without_optional_imports` makes those imports fail where Keras's
modules make them, as they would without the packages installed, so Keras
defines those helpers without them; any other module, airtf's figures
included, still imports scikit-learn and matplotlib as usual, when it needs
them. Only airtf's own processes install it, the commands
(:func:`airtf.cli.common.reports_errors`) and the Beam workers' extraction
setup, never ``import airtf``: in a user's own process ``keras.wrappers`` and
``keras.visualization`` keep working.
"""

import importlib.abc
import sys

SKIPPED = {"sklearn": "keras.src.wrappers", "matplotlib": "keras.src.visualization"}
"""Package refused -> the Keras package whose import of it is refused."""


class _KerasWithoutOptionalImports(importlib.abc.MetaPathFinder):
    """Refuses the :data:`SKIPPED` imports where Keras asks for them; finds nothing otherwise."""

    def find_spec(self, name, path=None, target=None):
        importer = SKIPPED.get(name)
        if importer and _imported_by(importer):
            raise ModuleNotFoundError(f"{name} is kept out of {importer} in airtf's commands", name=name)
        return None


def _imported_by(package):
    """Whether a module of ``package`` is running an import statement further up the stack."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith(package):
            return True
        frame = frame.f_back
    return False


def keras_without_optional_imports():
    """Install the finder (once), ahead of Python's own, before Keras is imported."""
    if not any(isinstance(finder, _KerasWithoutOptionalImports) for finder in sys.meta_path):
        sys.meta_path.insert(0, _KerasWithoutOptionalImports())
