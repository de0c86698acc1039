import numpy as np
import pytest

from forecastlab.models import build_model, compile_model, export_weights
from forecastlab.training import TrainingDiverged, configure_determinism, fit
from tests.conftest import tiny_params

HP = tiny_params()["studies"]["sine"]["models"]["rnn1"]


def train_once(seed, hp=HP):
    configure_determinism(seed, threads=1)
    x = np.sin(np.arange(120) * 0.6).astype("float32")
    inputs = np.lib.stride_tricks.sliding_window_view(x[:-1], 3)[..., None]
    model = compile_model(build_model("rnn1", hp, 3), hp)
    history = fit(model, inputs, x[3:], hp, "test/w3/rnn1")
    return export_weights(model), history


def test_two_runs_with_one_seed_give_identical_weights():
    first, history = train_once(11)
    second, _ = train_once(11)
    assert set(history) == {"loss", "val_loss"} and len(history["loss"]) == HP["epochs"]
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])
    other, _ = train_once(12)
    assert not np.array_equal(other["RNN/kernel"], first["RNN/kernel"])


def test_diverging_loss_stops_with_model_and_epoch():
    exploding = dict(HP, learning_rate=1e38, optimizer="sgd", activation="linear", epochs=5)
    with pytest.raises(TrainingDiverged, match=r"test/w3/rnn1: loss is (nan|inf) at epoch \d"):
        train_once(0, exploding)
