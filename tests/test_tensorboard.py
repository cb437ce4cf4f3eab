"""A real TensorBoard server on 127.0.0.1 over a pre-training run and an airtf-eval run: what its data endpoints show."""

import contextlib
import io
import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from airtf.cli import eval as eval_cli
from airtf.pretrain import training
from test_evaluate import eval_args, write_release

pytestmark = pytest.mark.slow  # every test reads one pre-training run and one airtf-eval run, made first


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def board(nsynth_dir, tmp_path_factory):
    """TensorBoard over a folder holding a textual run and a two-seed pca evaluation; yields a GET function."""
    jobs = tmp_path_factory.mktemp("jobs")
    settings = training.Settings("textual", nsynth_dir, epochs=2, batch_size=8, limit=16, patience=0,
                                 options={"word_map": {"multiphonic": "polyphonic"}})  # en_core_web_md lacks it
    training.train(settings, jobs / "textual", verbose=0)
    data = write_release(tmp_path_factory.mktemp("openmic"))
    with contextlib.redirect_stdout(io.StringIO()):
        assert eval_cli.main(eval_args(data, jobs / "pca", "--seeds", "0,1")) == 0
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(jobs), "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def get(path, body=None, **query):
        """GET (or POST ``body`` as JSON) a data endpoint; JSON back, bytes for the projector's files."""
        url = f"http://127.0.0.1:{port}/data/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json",
                                                  "X-TensorBoard-Feature-Flags": "{}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            content = response.read()
        return content if path.endswith(("metadata", "tensor")) else json.loads(content)

    deadline = time.monotonic() + 120
    while True:
        try:
            get("runs")
            break
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, "TensorBoard did not start"
            time.sleep(0.5)
    yield get
    server.terminate()
    server.wait(timeout=30)


def test_each_job_has_at_most_two_runs(board):
    assert sorted(board("runs")) == ["pca/seed-0/logs/train",
                                     "pca/seed-0/logs/validation", "pca/seed-1/logs/train",
                                     "pca/seed-1/logs/validation", "textual/logs/train", "textual/logs/validation"]


def test_each_metric_is_logged_once_under_grouped_tags(board):
    tags = board("plugin/scalars/tags")
    assert set(tags["textual/logs/train"]) == {"loss"}
    assert set(tags["textual/logs/validation"]) == {"loss", "best/val_loss"}
    validation = set(tags["pca/seed-0/logs/validation"])
    assert {"loss", "f1/overall", "f1/instruments_scored", "test/f1/overall"} <= validation
    assert not [tag for tag in validation if tag.startswith(("epoch_", "evaluation_", "val_"))]
    assert set(tags["pca/seed-0/logs/train"]) == {"loss"}


def test_the_projector_finds_the_pretraining_runs_embeddings_and_labels(board):
    assert board("plugin/projector/runs") == ["textual/logs/validation"]
    [embedding] = board("plugin/projector/info", run="textual/logs/validation")["embeddings"]
    assert embedding["tensorName"] == "textual VGGish embeddings of 16 NSynth validation examples"
    assert embedding["tensorShape"] == [16, 128]
    metadata = board("plugin/projector/metadata", run="textual/logs/validation", name=embedding["tensorName"])
    header, *rows = [line.split("\t") for line in metadata.decode().splitlines()]
    assert header == ["family", "instrument", "source", "qualities", "note"]  # columns to colour and search by
    assert len(rows) == 16 and {"bass", "flute"} & {row[0] for row in rows}


def test_images_text_and_histograms_are_in_the_jobs_runs(board):
    images = board("plugin/images/tags")
    assert len([tag for tag in images["pca/seed-0/logs/validation"] if tag.startswith("attention/")]) == 4
    assert board("plugin/text/tags") == {"textual/logs/validation": ["nearest_descriptions"]}
    assert "conv1/kernel/histogram" in board("plugin/histograms/tags")["textual/logs/train"]


def test_hparams_compare_the_jobs_settings_and_results(board):
    experiment = board("plugin/hparams/experiment", {"experimentName": ""})
    names = {info["name"] for info in experiment["hparamInfos"]}
    assert {"features", "weights", "seed", "epochs", "learning_rate", "objective"} <= names
    metrics = {info["name"]["tag"] for info in experiment["metricInfos"]}
    assert {"test/f1/overall", "best/val_loss"} <= metrics
    groups = board("plugin/hparams/session_groups", {"experimentName": "", "allowedStatuses": [
        "STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"], "colParams": [],
        "startIndex": 0, "sliceSize": 100})["sessionGroups"]
    seeds = {group["hparams"].get("seed") for group in groups if group["hparams"].get("features") == "pca"}
    assert seeds == {0, 1}
    scored = [group for group in groups if group["hparams"].get("features") == "pca"]
    assert all(any(value["name"]["tag"] == "test/f1/overall" for value in group["metricValues"]) for group in scored)
