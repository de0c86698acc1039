import numpy as np
import pytest

from forecastlab.models import build_model, compile_model, export_weights
from forecastlab.numerics import configure
from forecastlab.training import (
    TrainingDiverged,
    epoch_orders,
    fit,
    fit_compiled,
    fit_stateful,
    stateful_batches,
    validation_cut,
)
from tests import crossproc
from tests.conftest import tiny_params

HP = tiny_params()["studies"]["sine"]["models"]["rnn1"]


def train_once(seed, hp=HP):
    configure(seed)
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


@pytest.mark.parametrize("name", list(crossproc.MODELS))
def test_a_seed_trains_the_same_bits_in_a_group_as_alone(name):
    # Every layer kind, both optimizers and stateful training (tests/crossproc.py). Seed 7
    # trains after seed 8 in the group, from the state seed 8 left behind.
    group = crossproc.trained(name, [8, 7])
    assert crossproc.trained(name, [7]) == {7: group[7]}
    assert group[7] != group[8]


def windows_and_targets():
    x = np.sin(np.arange(150) * 0.6).astype("float32")
    return np.lib.stride_tricks.sliding_window_view(x[:-1], 3)[..., None], x[3:]


def test_compiled_trainer_equals_fit_fed_the_same_batches():
    hp = dict(HP, epochs=4, batch_size=16, validation_split=0.1)
    inputs, targets = windows_and_targets()
    cut = validation_cut(len(inputs), hp["validation_split"])
    orders = epoch_orders(cut, hp["epochs"], seed=5)

    configure(3)
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
    configure(0)
    model = compile_model(build_model("rnn1", hp, 3), hp)
    history = fit_compiled(model, inputs, targets, hp, "test/w3/rnn1")
    assert list(history) == ["loss"] and len(history["loss"]) == 2


# -- stateful training ---------------------------------------------------------------------


def test_stateful_batches_cut_contiguous_streams_read_in_consecutive_chunks():
    # 23 points, 2 streams of (23 - 1) // 2 = 11 steps, 3 whole chunks of 3 (steps 9, 10 dropped)
    inputs, targets = stateful_batches(np.arange(23.0), batch_size=2, length=3)
    assert inputs.shape == targets.shape == (3, 2, 3, 1) and inputs.dtype == np.float32
    np.testing.assert_array_equal(inputs[0, :, :, 0], [[0, 1, 2], [11, 12, 13]])
    np.testing.assert_array_equal(inputs[1, :, :, 0], [[3, 4, 5], [14, 15, 16]])
    np.testing.assert_array_equal(inputs[2, :, :, 0], [[6, 7, 8], [17, 18, 19]])
    np.testing.assert_array_equal(targets, inputs + 1)


def test_stateful_batches_refuse_a_series_too_short_for_one_chunk():
    with pytest.raises(
        ValueError,
        match=r"^a series of 9 points cut into 4 streams of 2 steps leaves no whole chunk of "
        r"length 3$",
    ):
        stateful_batches(np.arange(9.0), batch_size=4, length=3)


def stateful_model(arch, hp, length=4, seed=0):
    configure(seed)
    model = build_model(
        arch, hp, length, return_sequences=True, batch_size=hp["batch_size"], stateful=True
    )
    return compile_model(model, hp)


SERIES = np.sin(np.arange(61) * 0.6)  # 3 streams of 20 steps: 5 batches of 4 steps


@pytest.mark.parametrize("arch", ["rnn3", "lstm", "gru"])
def test_stateful_training_scores_one_carried_state_per_stream_reset_each_epoch(arch):
    from forecastlab.evaluation import stateful_reset_predict

    # Learning rate 0: the weights stay, so each epoch's loss is a pure forward quantity.
    hp = dict(HP, units=2, batch_size=3, epochs=2, learning_rate=0.0)
    model = stateful_model(arch, hp)
    history = fit_stateful(model, SERIES, hp, f"test/w4/{arch}")

    # The 3 streams are SERIES[:60] cut at 20 and 40: one state carried through each is a
    # reset every 20 steps; a state not carried between batches, a reset every 4.
    def mse(every):
        predictions, _ = stateful_reset_predict(model, arch, hp, SERIES[:60], every)
        return float(np.mean((predictions - SERIES[1:61]) ** 2))

    carried, reset_every_batch = mse(20), mse(4)
    # Equal epochs: the state starts from zero in each, not from where the last one ended.
    assert history["loss"][0] == pytest.approx(history["loss"][1], rel=1e-6)
    assert history["loss"][0] == pytest.approx(carried, rel=1e-5)
    assert abs(carried - reset_every_batch) > 1e-3 * carried


def test_statefully_trained_weights_predict_in_the_stateless_model():
    from forecastlab.models import copy_weights

    hp = dict(HP, units=2, batch_size=3, epochs=20, learning_rate=0.02)
    model = stateful_model("gru", hp)
    before = export_weights(model)
    history = fit_stateful(model, SERIES, hp, "test/w4/gru")
    assert len(history["loss"]) == 20 and history["loss"][-1] < history["loss"][0]
    assert not np.array_equal(export_weights(model)["GRU/kernel"], before["GRU/kernel"])
    stateless = copy_weights(model, build_model("gru", hp, 4))
    windows = np.lib.stride_tricks.sliding_window_view(SERIES[:-1], 4)[..., None]
    predictions = stateless.predict(windows, verbose=0)
    assert predictions.shape == (len(windows), 1) and np.isfinite(predictions).all()


def test_stateful_training_twice_with_one_seed_gives_identical_weights():
    hp = dict(HP, units=2, batch_size=3, epochs=5)
    runs = []
    for seed in (4, 4, 5):
        model = stateful_model("rnn3", hp, seed=seed)
        fit_stateful(model, SERIES, hp, "test/w4/rnn3")
        runs.append(export_weights(model))
    for name in runs[0]:
        np.testing.assert_array_equal(runs[0][name], runs[1][name])
    assert not np.array_equal(runs[0]["RNN/kernel"], runs[2]["RNN/kernel"])


def test_stateful_training_stops_on_a_diverging_loss():
    hp = dict(HP, units=2, batch_size=3, epochs=5, learning_rate=1e38, optimizer="sgd")
    hp["activation"] = "linear"
    with pytest.raises(TrainingDiverged, match=r"^test/w4/rnn3: loss is (nan|inf) at epoch \d"):
        fit_stateful(stateful_model("rnn3", hp), SERIES, hp, "test/w4/rnn3")


def test_stateful_training_refuses_a_stateless_model():
    hp = dict(HP, units=2, batch_size=3)
    model = compile_model(build_model("rnn3", hp, 4, return_sequences=True, batch_size=3), hp)
    with pytest.raises(ValueError, match=r"^rnn3: stateful training needs a stateful model built"):
        fit_stateful(model, SERIES, hp, "test")
