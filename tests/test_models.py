import keras
import numpy as np
import pytest

from forecastlab.config import load_yaml
from forecastlab.models import (
    ARCHITECTURES,
    build_model,
    compile_model,
    copy_weights,
    export_weights,
    parameter_count,
)
from tests.conftest import REPO, tiny_params

HP = tiny_params()["studies"]["sine"]["models"]["rnn1"]


def test_schema_names_exactly_the_registered_architectures():
    schema = load_yaml(REPO / "workflow/schemas/params.schema.yaml")
    listed = schema["$defs"]["study"]["properties"]["architectures"]["items"]["enum"]
    configurable = schema["$defs"]["study"]["properties"]["models"]["properties"]
    assert set(listed) == set(configurable) == set(ARCHITECTURES)


def test_rnn1_has_the_tutorials_five_weights():
    model = build_model("rnn1", HP, 2)
    assert parameter_count(model) == 5
    weights = export_weights(model)
    assert {k: v.shape for k, v in weights.items()} == {
        "RNN/kernel": (1, 1),
        "RNN/recurrent_kernel": (1, 1),
        "RNN/bias": (1,),
        "dense/kernel": (1, 1),
        "dense/bias": (1,),
    }


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_architecture_trains_saves_loads_and_predicts_the_same(tmp_path, arch):
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 2, 1)).astype("float32")
    y = x[:, -1, 0] * 0.5
    hp = dict(HP, units=3, output_activation="tanh")
    model = compile_model(build_model(arch, hp, 2), hp)
    before = export_weights(model)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    after = export_weights(model)
    assert any(not np.array_equal(before[k], after[k]) for k in before)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_copy_weights_into_a_sequence_variant():
    model = build_model("rnn1", HP, 2)
    twin = copy_weights(model, build_model("rnn1", HP, None, return_sequences=True))
    for name, value in export_weights(model).items():
        np.testing.assert_array_equal(export_weights(twin)[name], value)
