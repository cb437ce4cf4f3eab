"""airtf as a package, not a checkout: the built wheel installs and runs outside the repository."""

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]


def run(command, **kwargs):
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel built from this checkout, installed into a fresh virtual environment.

    The environment reads airtf's dependencies from this one (a .pth line), so
    that nothing is downloaded; airtf itself comes from the wheel only.
    """
    root = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w",
         str(root / "dist"), str(REPOSITORY)])
    [wheel] = (root / "dist").glob("airtf-*.whl")
    run([sys.executable, "-m", "venv", str(root / "venv")])
    python = root / "venv" / "bin" / "python"
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)])
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "AIRTF_MODELS")}
    environment.update(TF_CPP_MIN_LOG_LEVEL="3", XDG_CACHE_HOME=str(root / "cache"))
    return {"wheel": wheel, "bin": root / "venv" / "bin", "cwd": root, "env": environment}


@pytest.mark.slow
def test_the_wheel_carries_the_presets_and_the_release_manifest(installed):
    with zipfile.ZipFile(installed["wheel"]) as archive:
        names = archive.namelist()
    assert "airtf/vggish/presets.json" in names and "airtf/datasets/releases.json" in names
    assert not [name for name in names if name.startswith(("tests/", "tools/", "models/"))]


@pytest.mark.slow
def test_the_installed_package_runs_outside_the_checkout(installed, shared_data):
    command = {"cwd": installed["cwd"], "env": installed["env"]}
    where = run([str(installed["bin"] / "python"), "-c", "import airtf; print(airtf.__file__)"], **command)
    assert Path(where.strip()).is_relative_to(installed["cwd"] / "venv")
    verified = run([str(installed["bin"] / "airtf-weights"), "verify",
                    str(shared_data / "vggish" / "vggish_pca_params.npz")], **command)
    assert verified.endswith(": OK, the official vggish_pca_params.npz\n")
    clip = shared_data / "openmic" / "audio" / "000" / "000046_3840.ogg"
    extracted = run([str(installed["bin"] / "airtf-extract"), str(clip), "--out", "features", "--weights", "random",
                     "--quiet"], **command)
    assert extracted.startswith("wrote 1 files (10 examples) to features/embedding")
    assert (installed["cwd"] / "features" / "embedding" / "000046_3840.json").is_file()


@pytest.mark.slow
def test_models_go_to_the_user_cache_outside_a_checkout(installed):
    folder = run([str(installed["bin"] / "python"), "-c",
                  "from airtf.vggish import presets; print(presets.models_dir())"], cwd=installed["cwd"],
                 env=installed["env"])
    assert Path(folder.strip()) == installed["cwd"] / "cache" / "airtf" / "models"
