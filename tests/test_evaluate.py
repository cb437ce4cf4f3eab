"""airtf-eval and airtf-compare on a small synthetic OpenMIC release: outputs, resume, comparison, errors."""

import contextlib
import csv
import io
import json
import math

import keras
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from airtf.classify import attention, evaluate, figures, reporting
from airtf.cli import compare as compare_cli, eval as eval_cli
from airtf.demo import sets as demo
from airtf.runs import run_directory, summaries
from airtf.support.files import write_json, write_npz

CLASSES = list(demo.OPENMIC_CLASSES)
TRAIN, TEST = 60, 20
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
seed_callbacks = evaluate.seed_callbacks


def write_release(root):
    """Class map, partitions and openmic-2018.npz with X: all that the pca feature set needs."""
    rng = np.random.default_rng(1)
    keys = [f"{index:06d}_0" for index in range(TRAIN + TEST)]
    write_json(root / "class-map.json", {name: index for index, name in enumerate(CLASSES)})
    (root / "partitions").mkdir(parents=True)
    (root / "partitions" / "split01_train.csv").write_text("\n".join(keys[:TRAIN]) + "\n")
    (root / "partitions" / "split01_test.csv").write_text("\n".join(keys[TRAIN:]) + "\n")
    y_true = rng.choice([0.0, 0.2, 0.8, 1.0], (len(keys), len(CLASSES)))
    x = rng.integers(0, 256, (len(keys), 10, 128), dtype=np.uint8)
    x[:, :, :20] = np.where(y_true[:, None, :] >= 0.5, 200, 40)  # instruments are audible in their features
    write_npz(root / "openmic-2018.npz", X=x, Y_true=y_true, Y_mask=rng.random(y_true.shape) < 0.6,
              sample_key=np.array(keys))
    return root


def eval_args(data, out, *extra):
    return ["--features", "pca", "--data", str(data), "--out", str(out), "--epochs", "2", "--batch-size", "16",
            "--quiet", *extra]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_release(tmp_path_factory.mktemp("openmic"))


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    """A finished two-seed pca run, and what airtf-eval printed."""
    out = tmp_path_factory.mktemp("runs") / "pca"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert eval_cli.main(eval_args(data, out, "--seeds", "0,1")) == 0
    return out, printed.getvalue()


class Interrupt(keras.callbacks.Callback):
    """A Ctrl-C as epoch 2 begins."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def resumed(data, tmp_path_factory):
    """A one-seed run with batch normalisation, interrupted as its epoch 2 begins, then rerun to the end."""
    out = tmp_path_factory.mktemp("runs") / "pca-batch-norm"
    arguments = eval_args(data, out, "--seeds", "3", "--norm", "batch", "--epochs", "3")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evaluate, "seed_callbacks", lambda *args: [*seed_callbacks(*args), Interrupt()])
        interrupted = eval_cli.main(arguments)
    left = {"backup": (out / "seed-3" / "backup").is_dir(), "scores": (out / "seed-3" / "scores.json").exists()}
    return out, interrupted, left, eval_cli.main(arguments)


def read_csv(path):
    with open(path, newline="") as stream:
        return list(csv.reader(stream))


@pytest.mark.slow
def test_run_directory_layout(run, data):
    out, _ = run
    for name in ("config.json", "split.json", "feature_spec.json", "classes.json", "scores.json", "scores.csv",
                 "f1_per_instrument.png", "f1_over_seeds.png", "attention.keras"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["features"]["kind"] == "pca" and config["data"] == str(data.resolve())
    assert config["training"] == {"epochs": 2, "batch_size": 16, "learning_rate": attention.LEARNING_RATE}
    assert json.loads((out / "classes.json").read_text()) == CLASSES
    assert json.loads((out / "feature_spec.json").read_text())["kind"] == "pca"
    split = json.loads((out / "split.json").read_text())
    assert len(split["validation"]) == 9 and len(split["test"]) == TEST
    for seed in (0, 1):
        seed_dir = out / f"seed-{seed}"
        for name in ("history.csv", "scores.json", "attention.keras", "test_predictions.npz",
                     "checkpoints/best.weights.h5", "checkpoints/best-val-loss.weights.h5"):
            assert (seed_dir / name).is_file(), f"seed-{seed}/{name}"
        history = read_csv(seed_dir / "history.csv")
        assert len(history) == 3 and "val_f1_macro" in history[0] and "val_loss" in history[0]
        assert not (seed_dir / "backup").exists()  # finished: nothing left to resume


@pytest.mark.slow
def test_printed_table_has_every_instrument(run):
    _, printed = run
    assert "pca: released features / 255: test scores over seeds 0, 1" in printed
    lines = printed.splitlines()
    for name in [*CLASSES, "overall"]:
        assert any(line.startswith(name + " ") and "±" in line for line in lines), name


@pytest.mark.slow
def test_scores_are_the_seeds_and_their_mean(run):
    out, _ = run
    summary = json.loads((out / "scores.json").read_text())
    seeds = summary["seeds"]
    assert list(seeds) == ["0", "1"] and summary["classes"] == CLASSES
    overall = [seeds[seed]["test"]["overall"]["f1"] for seed in seeds]
    assert summary["mean"]["overall"]["f1"] == pytest.approx(np.mean(overall))
    assert summary["std"]["overall"]["f1"] == pytest.approx(np.std(overall))
    validation = {int(seed): result["validation_f1_macro"] for seed, result in seeds.items()}
    assert summary["best_seed"] == max(validation, key=validation.get)
    for result in seeds.values():
        assert result["best_epoch"] in (0, 1)
    rows = read_csv(out / "scores.csv")
    assert rows[0][:3] == ["instrument", "f1_mean", "f1_std"] and rows[0][-2:] == ["f1_seed0", "f1_seed1"]
    assert [row[0] for row in rows[1:]] == [*CLASSES, "overall"]
    assert float(rows[-1][1]) == pytest.approx(summary["mean"]["overall"]["f1"])


@pytest.mark.slow
def test_plots_are_png_images(run):
    from matplotlib import image

    out, _ = run
    for name in ("f1_per_instrument.png", "f1_over_seeds.png"):
        assert (out / name).read_bytes()[:8] == PNG_SIGNATURE
        assert image.imread(out / name).shape[2] in (3, 4)


@pytest.mark.slow
def test_attention_keras_reproduces_the_best_seeds_test_predictions(run, data):
    out, _ = run
    best = json.loads((out / "scores.json").read_text())["best_seed"]
    model = keras.saving.load_model(out / "attention.keras")
    assert isinstance(model, attention.AttentionClassifier)
    with np.load(out / f"seed-{best}" / "test_predictions.npz") as stored:
        keys, expected = list(stored["sample_key"]), stored["y_prob"]
    with np.load(data / "openmic-2018.npz") as release:
        rows = [list(release["sample_key"]).index(key) for key in keys]
        x = release["X"][rows].astype(np.float32) / 255
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-6)


@pytest.mark.slow
def test_tensorboard_has_instrument_f1_and_attention_images(run):
    out, _ = run
    validation = EventAccumulator(str(out / "seed-0" / "logs" / "validation"))
    validation.Reload()
    tags = validation.Tags()["tensors"]
    last = {name: values[-1] for name, values in run_directory.read_history(out / "seed-0" / "history.csv").items()}
    scored = {name for name in CLASSES if not math.isnan(last[f"val_f1_{name}"])}
    assert scored and len(scored) == last["val_f1_instruments_scored"]
    assert {f"f1/{name}" for name in [*scored, "overall", "instruments_scored"]} | {"loss"} <= set(tags)
    assert not {f"f1/{name}" for name in set(CLASSES) - scored} & set(tags)  # NaN is left out, never drawn
    assert len(validation.Tensors("f1/overall")) == 2
    assert sorted(path.name for path in (out / "seed-0" / "logs").iterdir()) == ["train", "validation"]
    images = EventAccumulator(str(out / "seed-0" / "logs" / "validation"), size_guidance={"tensors": 0})
    images.Reload()
    tags = [tag for tag in images.Tags()["tensors"] if tag.startswith("attention/")]
    assert len(tags) == evaluate.ATTENTION_CLIPS
    assert images.SummaryMetadata(tags[0]).plugin_data.plugin_name == "images"
    width, height, png = images.Tensors(tags[0])[-1].tensor_proto.string_val
    assert png[:8] == PNG_SIGNATURE
    figure = figures.attention_figure(np.ones((10, len(CLASSES))), CLASSES, np.ones(len(CLASSES)),
                                      np.ones(len(CLASSES)), evaluate.CLIP_SECONDS, "a clip")
    assert (int(height), int(width)) == summaries.figure_pixels(figure).shape[:2]  # the labelled figure


@pytest.mark.slow
def test_rerun_skips_finished_seeds(run, data, monkeypatch, capsys):
    out, _ = run
    before = (out / "scores.json").read_text()

    def fail(*args, **kwargs):
        raise AssertionError("a finished seed was trained again")

    monkeypatch.setattr(evaluate, "train_seed", fail)
    assert eval_cli.main(eval_args(data, out, "--seeds", "0,1")) == 0
    assert "seeds 0, 1 were finished already" in capsys.readouterr().out
    assert json.loads((out / "scores.json").read_text()) == json.loads(before)


@pytest.mark.slow
def test_a_different_configuration_is_refused(run, data, capsys):
    out, _ = run
    assert eval_cli.main(eval_args(data, out, "--seeds", "0,1", "--lr", "0.01")) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("airtf-eval: error: ") and "different configuration (training differ)" in error
    assert "\n" not in error


@pytest.mark.slow
def test_an_interrupted_seed_resumes_from_its_last_epoch(resumed):
    out, interrupted, left, finished = resumed
    assert (interrupted, finished) == (130, 0)
    assert left == {"backup": True, "scores": False}
    assert [int(row[0]) for row in read_csv(out / "seed-3" / "history.csv")[1:]] == [0, 1, 2]
    assert json.loads((out / "scores.json").read_text())["seeds"]["3"]["epochs"] == 3


@pytest.mark.slow
def test_compare_puts_runs_side_by_side(run, resumed, tmp_path, capsys):
    out, _ = run
    other = resumed[0]
    assert compare_cli.main([str(out), str(other), "--out", str(tmp_path / "fig"), "--resamples", "50"]) == 0
    table = capsys.readouterr().out
    header = table.splitlines()[0].split()
    assert header == ["instrument", "pca", "pca-batch-norm"]
    assert "pca-batch-norm  pca: released features / 255 (seeds 3)" in table
    assert "with 95% bootstrap intervals over the" in table and "(50 resamplings)" in table
    assert "pca vs pca-batch-norm: not paired (other test clips or another number of seeds)" in table
    comparison = json.loads((tmp_path / "fig" / "comparison.json").read_text())
    assert [entry["label"] for entry in comparison["runs"]] == ["pca", "pca-batch-norm"]
    for label, entry in zip(["pca", "pca-batch-norm"], comparison["runs"]):
        interval = comparison["statistics"]["intervals"][label]["f1"]
        assert interval["low"] <= interval["high"] and interval["value"] == pytest.approx(entry["mean"]["overall"]["f1"])
    rows = read_csv(tmp_path / "fig" / "comparison.csv")
    assert rows[0] == ["instrument", "pca_mean", "pca_std", "pca-batch-norm_mean", "pca-batch-norm_std"]
    assert len(rows) == len(CLASSES) + 2
    for name in ("f1_per_instrument.png", "f1_over_seeds.png"):
        assert (tmp_path / "fig" / name).read_bytes()[:8] == PNG_SIGNATURE
    assert compare_cli.main([str(out), "--out", str(tmp_path / "fig")]) == 2
    assert "--overwrite" in capsys.readouterr().err


@pytest.mark.parametrize("arguments, message", [
    (["--features", "mfcc"], "unknown feature set 'mfcc'"),
    (["--data", "{tmp}/nowhere"], "nowhere: no such folder"),
    (["--limit", "1"], "no epoch can be selected"),
])
def test_bad_input_is_a_one_line_error(arguments, message, data, tmp_path, capsys):
    arguments = [argument.format(tmp=tmp_path) for argument in arguments]
    code = eval_cli.main(eval_args(data, tmp_path / "run") + arguments)
    error = capsys.readouterr().err.strip()
    assert code == 2 and error.startswith("airtf-eval: error: ") and message in error and "\n" not in error
    assert not (tmp_path / "run").exists()  # nothing written: the fixed command runs in the same --out


def test_compare_refuses_an_unfinished_run(tmp_path, capsys):
    (tmp_path / "half").mkdir()
    assert compare_cli.main([str(tmp_path / "half"), "--out", str(tmp_path / "fig")]) == 2
    assert "no scores.json" in capsys.readouterr().err


def test_best_epoch_is_read_from_the_history(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text("epoch,val_f1_macro,val_loss\n0,0.4,0.9\n1,0.6,0.7\n2,nan,0.8\n3,NA,0.6\n")
    assert evaluate.best_epoch(history) == 1


def test_overwrite_clears_only_airtf_eval_outputs(tmp_path):
    run_dir = run_directory.start(tmp_path / "run", {"x": 1}).path
    (run_dir / "scores.json").write_text("{}")
    (run_dir / "notes.txt").write_text("mine")
    run_directory.start(run_dir / "seed-0", {"x": 1})
    evaluate.clear(run_dir)
    assert sorted(path.name for path in run_dir.iterdir()) == ["notes.txt"]
    assert math.isnan(reporting._from_json(reporting.json_ready(math.nan)))
