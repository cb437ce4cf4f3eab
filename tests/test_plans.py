"""Dry-run plans: what a run will cost, measured before it starts, and the refusal of a run the disk cannot hold."""

import os
import subprocess
import types
from pathlib import Path

import pytest

from airtf.classify import evaluate
from airtf.cli import eval as eval_cli
from airtf.datasets.openmic import OpenMIC
from airtf.features.feature_sets import EMBEDDING_CLIP_BYTES
from airtf.runs import plans
from airtf.support import files
from test_evaluate import eval_args, write_release

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def openmic_demo(tmp_path_factory):
    """A demo OpenMIC of real instrument audio."""
    from airtf.demo import sets as demo

    folder = tmp_path_factory.mktemp("demo") / "openmic"
    demo.render_openmic(folder, clips=40, seed=3)
    return folder


def test_durations_and_sizes_read_as_people_write_them():
    assert plans.duration_text(40) == "40 s"
    assert plans.duration_text(12 * 60 + 20) == "12 min"
    assert plans.duration_text(3 * 3600 + 5 * 60) == "3 h 05 min"
    assert plans.duration_text(2 * 86400 + 6 * 3600 + 100) == "2 d 6 h"
    assert [files.size_text(count) for count in (789e3, 45.6e6, 1.234e9)] == ["789 kB", "45.6 MB", "1.23 GB"]


def test_a_step_is_timed_after_its_warm_up(monkeypatch):
    calls, clock = [], iter(range(100))
    monkeypatch.setattr(plans.time, "perf_counter", lambda: next(clock))
    assert plans.seconds_per_step(lambda: calls.append(1), warmup=2, steps=3) == 1
    assert len(calls) == 5


@pytest.mark.slow
def test_the_eval_plan_counts_what_it_would_compute_and_writes_nothing(openmic_demo, tmp_path):
    settings = evaluate.Settings(features="random", data=str(openmic_demo), seeds=(0, 42), epochs=3, limit=6)
    out, cache = tmp_path / "run", tmp_path / "cache"
    plan = evaluate.plan(settings, out, cache_dir=cache)
    assert not out.exists() and not cache.exists()
    used = evaluate.limited(OpenMIC(openmic_demo).draw_split(), 6)
    sizes = [len(used.train), len(used.validation), len(used.test)]
    clips = sum(sizes)
    assert f"{sizes[0]} training, {sizes[1]} validation and {sizes[2]} test clips" in plan.lines[0]
    assert f"{clips} of {clips} clips to compute" in plan.lines[1]
    assert plan.disk["embedding cache"] == clips * EMBEDDING_CLIP_BYTES and plan.disk["seed runs"] > 0
    assert plan.seconds > 0 and "seeds 0, 42 to train" in plan.lines[2]
    assert f"({plan.disk_bytes} bytes" in str(plan) and "fits" in str(plan)


def test_airtf_eval_refuses_a_run_the_disk_cannot_hold(tmp_path, monkeypatch, capsys):
    data = write_release(tmp_path / "openmic")
    monkeypatch.setattr(files.shutil, "disk_usage", lambda path: types.SimpleNamespace(free=1000))
    assert eval_cli.main(eval_args(data, tmp_path / "run")) != 0
    error = capsys.readouterr().err
    assert "the run writes about" in error and "1 kB free" in error and "seed runs" in error
    assert not list((tmp_path / "run").glob("seed-*"))


@pytest.mark.slow
def test_airtf_eval_dry_run_prints_the_plan(tmp_path, capsys):
    data = write_release(tmp_path / "openmic")
    assert eval_cli.main(eval_args(data, tmp_path / "run", "--dry-run")) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("plan of airtf-eval --features pca") and "time: about" in printed
    assert "read from the release, nothing to compute" in printed and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_reproduce_paper_dry_run_on_a_release_shaped_set(tmp_path):
    """pca is planned; the sets that need audio or weights are skipped with the reason; the total is printed."""
    data = write_release(tmp_path / "openmic")
    environment = {**os.environ, "AIRTF_MODELS": str(tmp_path / "models")}
    environment.pop("NORM_WEIGHTS", None)
    result = subprocess.run([str(REPO / "scripts" / "reproduce_paper"), "--dry-run", str(data), str(tmp_path / "out"),
                             "--", "--epochs", "2", "--seeds", "0"], capture_output=True, text=True, env=environment,
                            timeout=600)
    lines = result.stdout.splitlines()
    assert any(line.startswith("plan of airtf-eval --features pca") for line in lines), result.stdout + result.stderr
    assert any(line.startswith("== plan: about") and "fits" in line for line in lines)
    assert "== done: planned 1 (fig2/pca), skipped 8" in lines
    assert any("skipped fig2/random" in line and "audio file not found" in line for line in lines)
    assert any("skipped musicnn/musicnn" in line and "airtf-weights fetch musicnn" in line for line in lines)
    assert not (tmp_path / "out").exists()
