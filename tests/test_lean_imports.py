"""airtf's commands import Keras without the scikit-learn and matplotlib Keras would import for helpers they never use."""

import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_a_command_imports_keras_without_sklearn_or_matplotlib(openmic_clip, tmp_path):
    script = """
import contextlib, runpy, sys
sys.argv = ["airtf-extract", *sys.argv[1:]]
with contextlib.suppress(SystemExit):
    runpy.run_module("airtf.cli.extract", run_name="__main__")
print(sorted(name for name in ("keras", "tensorflow", "sklearn", "matplotlib") if name in sys.modules))
"""
    run = subprocess.run([sys.executable, "-c", script, str(openmic_clip), "--out", str(tmp_path), "--output",
                          "embedding", "--weights", "random", "--quiet"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines()[-1] == "['keras', 'tensorflow']"
    assert (tmp_path / "embedding" / f"{openmic_clip.stem}.json").is_file()


@pytest.mark.slow
def test_other_modules_still_import_them_and_a_plain_import_of_airtf_changes_nothing():
    script = """
import sys
import airtf
assert not any(type(f).__module__ == "airtf.support.lean_imports" for f in sys.meta_path)  # import airtf installs nothing
from airtf.support import lean_imports
lean_imports.keras_without_optional_imports()
lean_imports.keras_without_optional_imports()
assert sum(type(f).__module__ == "airtf.support.lean_imports" for f in sys.meta_path) == 1
import keras
from keras.src.wrappers import fixes
from keras.src.visualization import plot_image_gallery
assert fixes.sklearn is None and plot_image_gallery.plt is None and "sklearn" not in sys.modules
import sklearn.metrics  # any other importer still gets scikit-learn
assert sklearn.metrics.average_precision_score([1, 0], [0.9, 0.2]) == 1.0
from airtf.classify import figures
assert "matplotlib" in sys.modules
"""
    subprocess.run([sys.executable, "-c", script], check=True, env={"TF_CPP_MIN_LOG_LEVEL": "3", **os.environ})
