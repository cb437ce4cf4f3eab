"""TensorBoard logs: two runs per job, tags that group, each metric once, NaN never drawn, one event file a run."""

import math

import tensorflow as tf

from airtf.runs import summaries


def scalars_of(folder):
    """{tag: [(step, value), ...]} of every event file in ``folder``, and the number of event files."""
    found, files = {}, sorted(folder.glob("events.out.tfevents.*"))
    for path in files:
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, float(tf.make_ndarray(value.tensor))))
    return found, len(files)


def test_epoch_logs_go_to_train_and_validation_under_grouped_tags_without_nan(tmp_path):
    callback = summaries.EpochScalars(tmp_path)
    for epoch, piano in enumerate((math.nan, 0.5)):
        callback.on_epoch_end(epoch, {"loss": 1.0 - epoch / 4, "f1_macro": 0.25, "val_loss": 2.0, "val_f1_macro": 0.5,
                                      "val_f1_piano": piano, "val_f1_violin": math.inf,
                                      "val_f1_instruments_scored": 1})
    callback.on_train_end()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["train", "validation"]
    train, train_files = scalars_of(tmp_path / "train")
    validation, validation_files = scalars_of(tmp_path / "validation")
    assert train_files == validation_files == 1
    assert train == {"loss": [(0, 1.0), (1, 0.75)], "f1/overall": [(0, 0.25), (1, 0.25)]}
    assert validation["loss"] == [(0, 2.0), (1, 2.0)] and validation["f1/overall"] == [(0, 0.5), (1, 0.5)]
    assert validation["f1/piano"] == [(1, 0.5)]  # NaN at epoch 0 is left out, not drawn as 0
    assert "f1/violin" not in validation and validation["f1/instruments_scored"] == [(0, 1.0), (1, 1.0)]


def test_callbacks_of_one_run_share_its_writer(tmp_path):
    assert summaries.writer(tmp_path / "validation") is summaries.writer(tmp_path / "validation")
    summaries.scalars(tmp_path / "validation", {"loss": 1.0, "f1/piano": float("nan")}, 0)
    with summaries.writer(tmp_path / "validation").as_default(step=0):
        tf.summary.text("note", "written by another callback")
    summaries.close(tmp_path)
    assert len(list((tmp_path / "validation").glob("events.out.tfevents.*"))) == 1
