"""Training repeats exactly on one machine, and --deterministic makes it equal across CPU machines."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from airtf.demo import sets as demo

REPOSITORY = Path(__file__).resolve().parents[1]

CLASSIFIER = """
import hashlib, sys
if sys.argv[1] == "deterministic":
    from airtf.runs import reproducible
    reproducible.enable()
import keras
import numpy as np
from airtf.classify import attention
from airtf.runs import reproducible
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 10, 128)).astype(np.float32)
y = attention.pack_targets(rng.random((256, 20)).astype(np.float32), rng.random((256, 20)) < 0.5)
model = attention.AttentionClassifier()
model.build((None, 10, 128))
attention.compile_classifier(model, jit_compile=not reproducible.enabled())
model.fit(x, y, batch_size=64, epochs=2, verbose=0)
print(hashlib.sha256(np.concatenate([np.ravel(w) for w in model.get_weights()]).tobytes()).hexdigest())
"""


def machine(*command, cores=None, isa=None, hash_seed="0"):
    """Run ``command`` as another machine would: its cores (taskset), its oneDNN instruction set, its hash seed."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": hash_seed,
                   "PYTHONPATH": str(REPOSITORY)}
    environment.pop("ONEDNN_MAX_CPU_ISA", None)
    if isa:
        environment["ONEDNN_MAX_CPU_ISA"] = isa
    prefix = ["taskset", "-c", cores] if cores else []
    done = subprocess.run([*prefix, *command], capture_output=True, text=True, env=environment, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def weights_digest(path):
    """sha256 of every array in a .weights.h5, in file order (the file's own bytes carry timestamps)."""
    digest = hashlib.sha256()
    with h5py.File(path, "r") as weights:
        weights.visititems(lambda name, item: digest.update(name.encode() + np.asarray(item).tobytes())
                           if isinstance(item, h5py.Dataset) else None)
    return digest.hexdigest()


@pytest.mark.slow
def test_pretraining_repeats_exactly_in_a_new_process(nsynth_dir, tmp_path):
    runs = []
    for attempt, hash_seed in enumerate(("1", "2")):
        out = tmp_path / f"run{attempt}"
        machine(sys.executable, "-m", "airtf.cli.pretrain", "--objective", "den-add", "--data", str(nsynth_dir),
                "--out", str(out), "--epochs", "2", "--limit", "16", "--batch-size", "8", "--seed", "5",
                hash_seed=hash_seed)
        runs.append((out / "history.csv").read_text().splitlines()[1:])
        runs[-1].append(weights_digest(out / "vggish.weights.h5"))
    assert runs[0] == runs[1]
    assert len(runs[0]) == 3 and runs[0][0] != runs[0][1]  # two epochs that differ, and the weights


@pytest.mark.slow
def test_the_classifier_repeats_exactly_in_a_new_process(tmp_path):
    demo.render_openmic(tmp_path / "openmic", clips=24, seed=3)
    scores = []
    for attempt, hash_seed in enumerate(("1", "2")):
        out = tmp_path / f"eval{attempt}"
        machine(sys.executable, "-m", "airtf.cli.eval", "--features", "random", "--data", str(tmp_path / "openmic"),
                "--out", str(out), "--epochs", "4", "--seeds", "7", "--quiet", hash_seed=hash_seed)
        summary = json.loads((out / "scores.json").read_text())
        scores.append(json.dumps(summary["seeds"]["7"], sort_keys=True))
    assert scores[0] == scores[1]


@pytest.mark.slow
def test_deterministic_results_are_equal_across_emulated_machines():
    script = [sys.executable, "-c", CLASSIFIER]
    here = machine(*script, "deterministic")
    assert machine(*script, "deterministic", cores="0") == here  # one core
    assert machine(*script, "deterministic", isa="AVX512_CORE") == here  # a machine oneDNN runs as AVX-512
    if "avx512f" in Path("/proc/cpuinfo").read_text():
        # without the flag, an AVX2 machine computes other numbers than this one: the emulation has teeth
        assert machine(*script, "default") != machine(*script, "default", isa="AVX2")
