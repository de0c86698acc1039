import numpy as np
import pytest

from forecastlab.models import build_model, compile_model, export_weights
from forecastlab.training import (
    TrainingDiverged,
    configure_determinism,
    epoch_orders,
    fit,
    fit_compiled,
    validation_cut,
)
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


def windows_and_targets():
    x = np.sin(np.arange(150) * 0.6).astype("float32")
    return np.lib.stride_tricks.sliding_window_view(x[:-1], 3)[..., None], x[3:]


def test_compiled_trainer_equals_fit_fed_the_same_batches():
    hp = dict(HP, epochs=4, batch_size=16, validation_split=0.1)
    inputs, targets = windows_and_targets()
    cut = validation_cut(len(inputs), hp["validation_split"])
    orders = epoch_orders(cut, hp["epochs"], seed=5)

    configure_determinism(3, threads=1)
    fast = compile_model(build_model("rnn1", hp, 3), hp)
    reference = compile_model(build_model("rnn1", hp, 3), hp)
    reference.set_weights(fast.get_weights())

    history = fit_compiled(fast, inputs, targets, hp, "test/w3/rnn1", orders=orders, log_every=3)
    fit_losses = []
    for order in orders:  # fit on exactly those batches, in that order
        epoch = reference.fit(
            inputs[order],
            targets[order],
            batch_size=hp["batch_size"],
            epochs=1,
            shuffle=False,
            verbose=0,
        )
        fit_losses.append(epoch.history["loss"][0])

    for name, value in export_weights(reference).items():
        np.testing.assert_allclose(export_weights(fast)[name], value, atol=1e-5)
    np.testing.assert_allclose(history["loss"], fit_losses, rtol=1e-4)
    val_inputs, val_targets = inputs[cut:], targets[cut:]
    expected_val = np.mean((reference.predict(val_inputs, verbose=0)[:, 0] - val_targets) ** 2)
    assert history["val_loss"][-1] == pytest.approx(expected_val, rel=1e-4)
    assert len(history["loss"]) == len(history["val_loss"]) == 4


def test_epoch_orders_are_seeded_permutations():
    orders = epoch_orders(7, 3, seed=1)
    assert orders.shape == (3, 7) and all(sorted(o) == list(range(7)) for o in orders)
    assert np.array_equal(orders, epoch_orders(7, 3, seed=1))
    assert validation_cut(100, 0.05) == 95 and validation_cut(3748, 0.05) == 3560


def test_compiled_trainer_without_validation_reports_no_val_loss():
    hp = dict(HP, epochs=2, validation_split=0.0)
    inputs, targets = windows_and_targets()
    configure_determinism(0, threads=1)
    model = compile_model(build_model("rnn1", hp, 3), hp)
    history = fit_compiled(model, inputs, targets, hp, "test/w3/rnn1")
    assert list(history) == ["loss"] and len(history["loss"]) == 2
