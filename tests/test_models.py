import warnings

import keras
import numpy as np
import pytest

from forecastlab.architectures import ARCHITECTURES, architecture, target_steps
from forecastlab.config import load_yaml
from forecastlab.io import ModelFileError, check_model_weights
from forecastlab.models import (
    build_model,
    compile_model,
    copy_weights,
    export_weights,
    load_model,
    parameter_count,
)
from forecastlab.numerics import configure
from forecastlab.training import SeedGroup
from forecastlab.windows import model_targets
from tests.conftest import (
    REPO,
    TINY_HORIZON,
    TINY_LENGTH,
    TINY_MODELS,
    tiny_model_hp,
    tiny_params,
    tiny_series,
    tiny_windows,
)

HP = tiny_params()["studies"]["sine"]["models"]["rnn1"]


def test_schema_names_exactly_the_registered_architectures():
    schema = load_yaml(REPO / "workflow/schemas/params.schema.yaml")
    listed = schema["$defs"]["study"]["properties"]["architectures"]["items"]["enum"]
    configurable = schema["$defs"]["study"]["properties"]["models"]["properties"]
    assert set(listed) == set(configurable) == set(ARCHITECTURES) == set(TINY_MODELS)


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


@pytest.mark.parametrize(
    ("arch", "hp", "count"),
    [
        ("rnn1", {"units": 1, "head": "none"}, 3),  # the textbook's SimpleRNN(1)
        ("deep_rnn", {"units": [20, 20, 1], "head": "none"}, 440 + 820 + 22),
        ("seq2vec", {"units": [20, 20], "target": "horizon"}, 440 + 820 + 210),
        ("seq2seq", {"units": [20, 20], "target": "shifted_horizon"}, 440 + 820 + 210),
        ("relu_rnn", {"units": 120, "activation": "relu", "target": "shifted"}, 14640 + 121),
        ("linear", {}, 51),
        ("linear_direct", {"target": "horizon"}, 510),
        # BatchNormalization keeps 4 values per feature (gamma, beta and the moving
        # mean and variance), 80 after each 20-unit layer.
        ("bn_rnn", {"units": [20, 20], "target": "shifted_horizon"}, 440 + 80 + 820 + 80 + 210),
    ],
)
def test_textbook_and_tutorial_models_have_their_published_sizes(arch, hp, count):
    # A SimpleRNN of u units reading d features has d*u + u*u + u weights: 440 for
    # (1 -> 20), 820 for (20 -> 20); Dense(k) on 20 has 21k; the TF1 tutorial's 120-unit
    # relu cell 14640 and its per-step output 121; Flatten + Dense(1) on 50 steps 51,
    # Dense(10) 510.
    model = build_model(arch, {**tiny_model_hp(arch), **hp}, 50, horizon=10)
    assert parameter_count(model) == count


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_architecture_trains_saves_loads_and_predicts_the_same(tmp_path, arch):
    keras.utils.set_random_seed(0)
    hp = tiny_model_hp(arch)
    windows = tiny_windows()
    x = windows["train_inputs"]
    y = model_targets(windows, "train", hp["target"], target_steps(arch, hp))
    group = SeedGroup(arch, hp, TINY_LENGTH, windows, tiny_series())
    configure(0)
    before = export_weights(
        compile_model(build_model(arch, hp, TINY_LENGTH, horizon=TINY_HORIZON), hp)
    )
    history = group.train(0, arch)
    model = group.model
    assert len(history.get("loss", [])) == (2 if architecture(arch).trained else 0)
    assert model.predict(x, verbose=0).shape == y.shape
    after = export_weights(model)
    if architecture(arch).trained:
        assert any(not np.array_equal(before[k], after[k]) for k in before)
    else:
        assert before == after == {}
    path = tmp_path / "m.keras"
    model.save(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_model(path)  # no custom_objects, LayerNorm cell included
    # A statefully trained model's optimizer lives in its twin: loading skips it silently.
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # The file holds bitwise the exported weights (read without Keras), and no others.
    check_model_weights(path, after)
    for name in after:
        changed = after | {name: after[name] + np.float32(0.05)}
        with pytest.raises(ModelFileError, match=f"weight {name} differs .*max .difference. 0.05"):
            check_model_weights(path, changed)
    if after:
        with pytest.raises(ModelFileError, match="holds weights the hand check never saw"):
            check_model_weights(path, dict(list(after.items())[:-1]))


def test_a_truncated_or_corrupted_model_file_is_named_as_such(tmp_path):
    path = tmp_path / "model.keras"
    build_model("rnn1", tiny_model_hp("rnn1"), TINY_LENGTH).save(path)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ModelFileError) as error:
        load_model(path)
    assert str(error.value) == (f"{path}: corrupt or truncated model file (File is not a zip file)")
    first = whole.index(b"config.json") + len("config.json") + 5  # inside its stored bytes
    path.write_bytes(whole[:first] + bytes([whole[first] ^ 0xFF]) + whole[first + 1 :])
    with pytest.raises(ModelFileError) as error:
        load_model(path)
    assert str(error.value) == (
        f"{path}: corrupt model file (config.json in it fails its checksum)"
    )


def test_conv_gru_outputs_line_up_with_the_textbooks_strided_targets():
    hp = tiny_model_hp("conv_gru")
    windows = tiny_windows()
    model = build_model("conv_gru", hp, TINY_LENGTH, horizon=TINY_HORIZON)
    targets = windows["train_targets_shifted_horizon"][:, 3::2]  # the book's Y[:, 3::2]
    np.testing.assert_array_equal(
        model_targets(windows, "train", "shifted_horizon", target_steps("conv_gru", hp)), targets
    )
    assert model.predict(windows["train_inputs"], verbose=0).shape == targets.shape


def test_naive_baselines_forecast_the_last_value_and_the_value_a_season_back():
    windows = tiny_windows()
    x = windows["train_inputs"]
    naive = build_model("naive", tiny_model_hp("naive"), TINY_LENGTH)
    np.testing.assert_array_equal(naive.predict(x, verbose=0)[:, 0], x[:, -1, 0])
    seasonal = build_model(
        "seasonal_naive", tiny_model_hp("seasonal_naive"), TINY_LENGTH, horizon=TINY_HORIZON
    )
    # step k ahead (value L + k) repeats value L + k - season
    np.testing.assert_array_equal(seasonal.predict(x, verbose=0), x[:, 4:7, 0])


def test_sse_loss_is_the_sum_of_squared_errors_over_the_batch():
    hp = tiny_model_hp("relu_rnn")
    model = compile_model(build_model("relu_rnn", hp, TINY_LENGTH), hp)
    windows = tiny_windows()
    x, y = windows["train_inputs"], windows["train_targets_shifted"]
    predictions = model.predict(x, verbose=0)
    expected = np.sum((predictions.astype(np.float64) - y) ** 2)
    loss = float(model.compute_loss(x=x, y=y, y_pred=predictions))
    assert loss == pytest.approx(expected, rel=1e-5)


def test_copy_weights_into_a_sequence_variant():
    model = build_model("rnn1", HP, 2)
    twin = copy_weights(model, build_model("rnn1", HP, None, return_sequences=True))
    for name, value in export_weights(model).items():
        np.testing.assert_array_equal(export_weights(twin)[name], value)
