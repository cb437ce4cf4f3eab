"""The objective contract, checked over every registered objective: a new one gets these tests for free."""

import json

import keras
import numpy as np
import pytest

from airtf import vggish
from airtf.pretrain import objectives, training
from airtf.pretrain.objectives.base import Config, Objective, ObjectiveError

REGISTERED = sorted(objectives.classes())
OPTIONS = {"textual": {"word_map": {"multiphonic": "polyphonic"}}}
"""Options an objective needs on the demo data (en_core_web_md has no vector for "multiphonic")."""


@pytest.fixture
def data_dirs(nsynth_dir, freesound_dir):
    return {"NSynth": nsynth_dir, "Freesound tags": freesound_dir}


def test_the_paper_objectives_are_registered():
    assert {"textual", "den-add", "den-mul", "align"} <= set(REGISTERED)


@pytest.mark.parametrize("name", REGISTERED)
def test_config_round_trips_through_json_and_checks_its_values(name):
    cls = objectives.classes()[name]
    assert issubclass(cls, Objective) and issubclass(cls.Config, Config) and cls.summary()
    objective = objectives.get(name, **OPTIONS.get(name, {}))
    stored = json.loads(json.dumps(objective.config.to_json()))
    assert cls.Config(**stored) == objective.config
    assert objectives.get(name, **stored).config == objective.config
    with pytest.raises(ObjectiveError, match=f"the {name} objective takes no option colour; its options are"):
        objectives.get(name, colour="red")


@pytest.mark.slow
@pytest.mark.parametrize("name", REGISTERED)
def test_one_train_step_moves_the_backbone_and_the_loss_is_finite(name, data_dirs):
    objective = objectives.get(name, **OPTIONS.get(name, {}))
    keras.utils.set_random_seed(0)
    data = objective.datasets(data_dirs[objective.data], batch_size=4, seed=0, limit=12)
    model = objective.build(vggish.from_preset("random", seed=0), data, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    before = [np.array(weight) for weight in model.backbone.weights]
    batch = next(iter(data.train))
    logs = model.train_on_batch(*(batch if isinstance(batch, tuple) else (batch,)), return_dict=True)
    assert np.isfinite(logs["loss"])
    assert any(not np.array_equal(old, np.array(new)) for old, new in zip(before, model.backbone.weights))
    examples, labels = objective.projector_examples(data_dirs[objective.data], data, 12, 5)
    assert examples.shape[1:] == (96, 64) and len(labels) == len(examples) <= 5


@pytest.mark.slow
@pytest.mark.parametrize("name", REGISTERED)
def test_example_counts_are_what_the_pipelines_give(name, data_dirs):
    import tensorflow as tf

    objective = objectives.get(name, **OPTIONS.get(name, {}))
    data = objective.datasets(data_dirs[objective.data], batch_size=4, seed=0, limit=12)
    counted = {split: sum(int(tf.nest.flatten(batch)[0].shape[0]) for batch in dataset)
               for split, dataset in (("train", data.train), ("validation", data.validation))}
    assert objective.example_counts(data_dirs[objective.data], data, 12) == {**counted, "exact": True}


@pytest.mark.slow
@pytest.mark.parametrize("name", REGISTERED)
def test_the_trained_backbone_loads_as_weights(name, data_dirs, tmp_path):
    objective = objectives.get(name, **OPTIONS.get(name, {}))
    settings = training.Settings(objective, data_dirs[objective.data], epochs=1, batch_size=4, limit=8, patience=0)
    result = training.train(settings, tmp_path / "run", verbose=0)
    assert result.epochs == 1 and result.backbone.is_file()
    for saved in objective.saved_files:
        assert (tmp_path / "run" / saved).is_file()
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["objective"] == name and config["options"] == objective.config.to_json()
    loaded = vggish.from_preset(tmp_path / "run")
    examples = np.random.default_rng(0).normal(size=(2, 96, 64)).astype(np.float32)
    trained = vggish.from_preset(result.backbone)
    np.testing.assert_allclose(loaded.predict(examples, verbose=0), trained.predict(examples, verbose=0))
