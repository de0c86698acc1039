import numpy as np
import pytest

from forecastlab.architectures import hidden_layer, plan
from forecastlab.data import sine_wave
from forecastlab.evaluation import (
    interval_coverage,
    mase,
    mc_dropout_predict,
    original_unit_metrics,
    per_horizon_mse,
    point_metrics,
    stateful_predict,
    stateful_predict_stepwise,
    stateful_reset_predict,
    stateful_warm_predict,
    stateless_predict,
)
from forecastlab.models import build_model, copy_weights
from forecastlab.windows import sliding_windows
from tests.conftest import tiny_model_hp, tiny_params

HP = tiny_params()["studies"]["sine"]["models"]["rnn1"]


def random_model(arch, length=4):
    """An untrained model of `arch` with random weights away from zero."""
    import keras

    keras.utils.set_random_seed(5)
    model = build_model(arch, dict(HP, units=3), length)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(scale=0.6, size=w.shape) for w in model.get_weights()])
    return model


@pytest.mark.parametrize("arch", ["rnn3", "lstm", "gru"])
def test_one_call_stateful_equals_per_step_model_for_lstm_and_gru(arch):
    model = random_model(arch)
    series = sine_wave(10, 4, 0.4, seed=0)[:25]
    one_call, hidden = stateful_predict(model, arch, dict(HP, units=3), series)
    stepwise = stateful_predict_stepwise(model, arch, dict(HP, units=3), series)
    np.testing.assert_allclose(one_call, stepwise, atol=1e-5)
    assert hidden.shape == (25, 3)


@pytest.mark.parametrize("arch", ["rnn1", "rnn3", "lstm", "gru"])
def test_hand_verification_passes_on_keras_outputs_of_every_architecture(arch):
    from forecastlab.handcheck import verify_predictions
    from forecastlab.models import export_weights

    hp = dict(HP, units=3)
    model = random_model(arch)
    series = sine_wave(10, 6, 0.4, seed=1)
    inputs, _ = sliding_windows(series, 4)
    stateless, stateless_hidden = stateless_predict(model, inputs)
    stateful, stateful_hidden = stateful_predict(model, arch, hp, series)
    outputs = {
        "test_series": series,
        "stateless": stateless,
        "stateless_hidden": stateless_hidden,
        "stateful": stateful,
        "stateful_hidden": stateful_hidden,
    }
    report = verify_predictions(arch, hp, export_weights(model), inputs, outputs, 1e-5)
    assert report["passed"], report


@pytest.fixture(scope="module")
def model():
    import keras

    keras.utils.set_random_seed(3)
    model = build_model("rnn1", HP, 4)
    # Weights away from zero so that the state matters.
    model.get_layer("RNN").set_weights([np.array([[0.9]]), np.array([[0.7]]), np.array([0.1])])
    model.get_layer("dense").set_weights([np.array([[1.3]]), np.array([-0.2])])
    return model


def test_one_call_stateful_equals_the_per_step_stateful_model(model):
    series = sine_wave(10, 4, 0.4, seed=0)[:30]
    one_call, hidden = stateful_predict(model, "rnn1", HP, series)
    stepwise = stateful_predict_stepwise(model, "rnn1", HP, series)
    assert one_call.shape == (30,) and hidden.shape == (30, 1)
    np.testing.assert_allclose(one_call, stepwise, atol=1e-5)
    # The state is really carried: a fresh start from step 10 gives other forecasts.
    restarted, _ = stateful_predict(model, "rnn1", HP, series[10:])
    assert np.abs(restarted[:3] - one_call[10:13]).max() > 1e-3


def test_stateless_equals_predict_on_windows(model):
    inputs, _ = sliding_windows(sine_wave(10, 4, 0.0, seed=0), 4)
    predictions, hidden = stateless_predict(model, inputs)
    np.testing.assert_allclose(predictions, model.predict(inputs, verbose=0)[:, 0], atol=1e-6)
    assert hidden.shape == (len(inputs), 1)


def test_point_metrics_match_their_formulas():
    metrics = point_metrics(np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 1.0]))
    assert metrics["mse"] == pytest.approx((0 + 1 + 9) / 3)
    assert metrics["rmse"] == pytest.approx(np.sqrt(10 / 3))
    assert metrics["mae"] == pytest.approx(4 / 3)


# -- every prediction mode against its straightforward Keras formulation ------------------

MODE_ARCHS = ["rnn3", "lstm", "gru"]
HP3 = dict(HP, units=3)


def stepwise_reference(model, arch, series, resets, hp=HP3):
    """A stateful batch-1 model of `arch` (hyperparameters `hp`, `model`'s weights) fed one
    value per call, its state reset to zero before each step in `resets`: series (T,) ->
    predictions (T,), hidden states (T, units).

    `predict_on_batch` (about 1 ms a step) rather than `predict` (about 90 ms) keeps the
    reference fast; both carry the state the same way.
    """
    import keras

    stateful = copy_weights(model, build_model(arch, hp, 1, batch_size=1, stateful=True))
    probe = keras.Model(
        stateful.inputs,
        [stateful.outputs[0], stateful.get_layer(hidden_layer(plan(arch, hp, 1))).output],
    )
    predictions, hidden = [], []
    for step, value in enumerate(series):
        if step in resets:
            for layer in stateful.layers:
                if hasattr(layer, "reset_state"):
                    layer.reset_state()
        prediction, state = probe.predict_on_batch(np.float32(value).reshape(1, 1, 1))
        predictions.append(prediction[0, 0])
        hidden.append(state[0])
    return np.asarray(predictions), np.asarray(hidden)


@pytest.mark.parametrize("arch", MODE_ARCHS)
def test_stateless_equals_predict_on_windows_and_a_reset_before_every_window(arch):
    model = random_model(arch)
    inputs, _ = sliding_windows(sine_wave(10, 2, 0.4, seed=2), 4)
    predictions, hidden = stateless_predict(model, inputs)
    np.testing.assert_allclose(predictions, model.predict(inputs, verbose=0)[:, 0], atol=1e-5)
    # The windows one after another, the state reset where each starts: the stateful model
    # has read exactly one window, from zero, at each window's last step.
    n, length, _ = inputs.shape
    steps, states = stepwise_reference(
        model, arch, inputs.reshape(-1), set(range(0, n * length, length))
    )
    np.testing.assert_allclose(predictions, steps[length - 1 :: length], atol=1e-5)
    np.testing.assert_allclose(hidden, states[length - 1 :: length], atol=1e-5)


@pytest.mark.parametrize("arch", MODE_ARCHS)
def test_stateful_equals_the_stateful_model_reset_once(arch):
    model = random_model(arch)
    series = sine_wave(10, 5, 0.4, seed=1)
    predictions, hidden = stateful_predict(model, arch, HP3, series)
    expected, expected_hidden = stepwise_reference(model, arch, series, resets={0})
    assert predictions.shape == (51,) and hidden.shape == (51, 3)
    np.testing.assert_allclose(predictions, expected, atol=1e-5)
    np.testing.assert_allclose(hidden, expected_hidden, atol=1e-5)


@pytest.mark.parametrize("arch", MODE_ARCHS)
def test_warm_equals_the_stateful_model_not_reset_between_history_and_test(arch):
    model = random_model(arch)
    series = sine_wave(10, 5, 0.4, seed=1)
    history, test = series[:30], series[30:]
    predictions, hidden = stateful_warm_predict(model, arch, HP3, history, test)
    expected, expected_hidden = stepwise_reference(model, arch, series, resets={0})
    assert predictions.shape == (21,) and hidden.shape == (21, 3)
    np.testing.assert_allclose(predictions, expected[30:], atol=1e-5)
    np.testing.assert_allclose(hidden, expected_hidden[30:], atol=1e-5)
    # The history matters: a cold start on the test part forecasts otherwise at first.
    cold, _ = stateful_predict(model, arch, HP3, test)
    assert np.abs(cold[:2] - predictions[:2]).max() > 1e-3


@pytest.mark.parametrize("arch", MODE_ARCHS)
def test_reset_every_l_equals_the_stateful_model_reset_every_l_steps(arch):
    model = random_model(arch)
    series = sine_wave(10, 5, 0.4, seed=1)  # 51 steps: the last of 8 chunks of 7 is padded
    predictions, hidden = stateful_reset_predict(model, arch, HP3, series, every=7)
    expected, expected_hidden = stepwise_reference(model, arch, series, resets=set(range(0, 51, 7)))
    assert predictions.shape == (51,) and hidden.shape == (51, 3)
    np.testing.assert_allclose(predictions, expected, atol=1e-5)
    np.testing.assert_allclose(hidden, expected_hidden, atol=1e-5)
    # The resets matter: right after one, the forecast differs from the carried state's.
    carried, _ = stateful_predict(model, arch, HP3, series)
    assert np.abs(carried[7:9] - predictions[7:9]).max() > 1e-3


def test_reset_every_l_at_least_the_series_length_is_the_plain_stateful_pass(model):
    series = sine_wave(10, 2, 0.4, seed=0)
    carried, carried_hidden = stateful_predict(model, "rnn1", HP, series)
    for every in (len(series), len(series) + 5):
        predictions, hidden = stateful_reset_predict(model, "rnn1", HP, series, every)
        np.testing.assert_allclose(predictions, carried, atol=1e-6)
        np.testing.assert_allclose(hidden, carried_hidden, atol=1e-6)


def test_reset_every_zero_steps_is_refused(model):
    with pytest.raises(
        ValueError, match=r"^the state must be reset every 1 or more steps, got every=0$"
    ):
        stateful_reset_predict(model, "rnn1", HP, np.zeros(5), every=0)


# -- metrics on hand-computed arrays -----------------------------------------------------


def test_original_unit_metrics_undo_the_scaler():
    # scaled = (x - 10) / 2: predictions 10, 12, 16 against targets 12, 12, 10 -> errors -2, 0, 6
    metrics = original_unit_metrics(np.array([0.0, 1.0, 3.0]), np.array([1.0, 1.0, 0.0]), 10.0, 2.0)
    assert metrics == {
        "mse": pytest.approx(40 / 3),
        "rmse": pytest.approx(np.sqrt(40 / 3)),
        "mae": pytest.approx(8 / 3),
        "n": 3,
    }


def test_mase_divides_by_the_in_sample_naive_mae():
    train = np.array([1.0, 3.0, 2.0, 6.0])  # |steps| 2, 1, 4: naive MAE 7 / 3
    predictions, targets = np.array([5.0, 5.0]), np.array([4.0, 8.0])  # MAE (1 + 3) / 2 = 2
    assert mase(predictions, targets, train) == pytest.approx(2 / (7 / 3))
    # Scale-free: the same forecasts in other units give the same value.
    assert mase(predictions * 3 + 1, targets * 3 + 1, train * 3 + 1) == pytest.approx(6 / 7)


def test_mase_refuses_a_training_series_without_steps():
    with pytest.raises(ValueError, match=r"^MASE is undefined: the training series is constant"):
        mase(np.ones(2), np.zeros(2), np.full(4, 5.0))
    with pytest.raises(
        ValueError, match=r"^MASE needs a training series of 2 or more points, got 1$"
    ):
        mase(np.ones(2), np.zeros(2), np.ones(1))


def test_interval_coverage_counts_targets_inside_including_the_bounds():
    lower = np.array([0.0, 0.0, 0.0, 0.0, 1.0])
    upper = np.array([1.0, 1.0, 1.0, 1.0, 1.0])
    targets = np.array([0.0, 0.5, 1.0, 1.5, 0.99])  # in, in, in (bounds count), out, out
    assert interval_coverage(lower, upper, targets) == pytest.approx(3 / 5)


def test_interval_coverage_refuses_crossed_bounds_and_mismatched_shapes():
    with pytest.raises(ValueError, match=r"^1 intervals have their lower bound above their upper"):
        interval_coverage(np.array([0.0, 2.0]), np.array([1.0, 1.0]), np.zeros(2))
    with pytest.raises(ValueError, match=r"^lower \(2,\), upper \(2,\) and targets \(3,\) differ"):
        interval_coverage(np.zeros(2), np.ones(2), np.zeros(3))


def test_per_horizon_mse_averages_each_column_over_the_windows():
    predictions = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    targets = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 4.0]])  # squared errors 0 4 9 / 0 1 16
    np.testing.assert_allclose(per_horizon_mse(predictions, targets), [0.0, 2.5, 12.5])


def test_per_horizon_mse_refuses_anything_but_two_equal_n_by_h_arrays():
    with pytest.raises(ValueError, match=r"^predictions \(2, 3\) and targets \(3, 2\) must both"):
        per_horizon_mse(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"^predictions \(3,\) and targets \(3,\) must both"):
        per_horizon_mse(np.zeros(3), np.zeros(3))


def test_iterative_forecast_feeds_the_model_its_own_forecasts():
    from forecastlab.evaluation import iterative_forecast

    model = random_model("rnn3")
    inputs, _ = sliding_windows(sine_wave(10, 3, 0.4, seed=2), 4)
    forecasts = iterative_forecast(model, inputs, 3)
    assert forecasts.shape == (len(inputs), 3)
    first = model.predict(inputs, verbose=0)
    extended = np.concatenate([inputs[:, 1:], first[:, None, :]], axis=1)
    np.testing.assert_allclose(forecasts[:, 0], first[:, 0], atol=1e-6)
    np.testing.assert_allclose(forecasts[:, 1], model.predict(extended, verbose=0)[:, 0], atol=1e-6)
    naive = build_model("naive", {}, 4)
    np.testing.assert_array_equal(
        iterative_forecast(naive, inputs, 3), np.repeat(inputs[:, -1], 3, axis=1)
    )


def test_scored_gives_scaled_original_and_scale_free_errors():
    from forecastlab.evaluation import scored

    forecasts, targets = np.array([1.0, 2.0]), np.array([2.0, 2.0])
    metrics = scored(forecasts, targets, offset=5.0, scale_=10.0, train_series=np.arange(4.0))
    assert metrics["mse"] == 0.5 and metrics["mse_orig"] == 50.0
    assert metrics["mae_orig"] == 5.0 and metrics["mase"] == 0.5  # naive in-sample MAE is 1


def test_the_sequence_twin_is_built_once_per_architecture_and_follows_each_models_weights():
    from forecastlab.evaluation import _TWINS

    hp = dict(HP, units=3)
    model = random_model("rnn3")
    series = sine_wave(10, 4, 0.4, seed=0)[:30]
    _TWINS.clear()
    first, _ = stateful_predict(model, "rnn3", hp, series)
    ((twin, _),) = _TWINS.values()
    reset, _ = stateful_reset_predict(model, "rnn3", hp, series, 4)
    np.testing.assert_allclose(reset[:4], first[:4], rtol=1e-6)  # the same up to the reset
    # Another model of the same architecture (another seed) reuses the twin, with its weights.
    other = random_model("rnn3")
    other.set_weights([w * 0.5 for w in model.get_weights()])
    halved, _ = stateful_predict(other, "rnn3", hp, series)
    assert [twin_ for twin_, _ in _TWINS.values()] == [twin]  # every mode and model reuses it
    np.testing.assert_allclose(
        halved, stateful_predict_stepwise(other, "rnn3", hp, series), atol=1e-5
    )
    assert not np.allclose(halved, first)
    # The first model again: bitwise its first predictions, the twin's weights its again.
    np.testing.assert_array_equal(stateful_predict(model, "rnn3", hp, series)[0], first)


def test_a_dense_over_the_whole_sequence_equals_time_distributed_dense():
    import keras

    hp = {**tiny_model_hp("seq2seq"), "units": [3, 3]}
    looped = build_model("seq2seq", hp, None, return_sequences=True)
    whole = copy_weights(
        looped, build_model("seq2seq", hp, None, return_sequences=True, time_distributed=False)
    )
    assert any(isinstance(layer, keras.layers.TimeDistributed) for layer in looped.layers)
    assert not any(isinstance(layer, keras.layers.TimeDistributed) for layer in whole.layers)
    inputs = np.random.default_rng(3).normal(size=(2, 40, 1)).astype("float32")
    np.testing.assert_allclose(
        whole.predict_on_batch(inputs), looped.predict_on_batch(inputs), rtol=1e-6, atol=1e-7
    )


def test_traced_mc_dropout_passes_draw_the_masks_of_eager_ones():
    import keras

    def seeded_model():  # the dropout layers' seed generators start from the seed
        keras.utils.set_random_seed(11)
        return build_model("mc_rnn", tiny_model_hp("mc_rnn"), 6)

    x = np.random.default_rng(1).normal(size=(5, 6, 1)).astype(np.float32)
    traced = mc_dropout_predict(seeded_model(), x, samples=4, seed=11)
    model = seeded_model()
    eager = np.stack([np.asarray(model(x, training=True))[..., 0] for _ in range(4)])
    np.testing.assert_array_equal(traced["mean"], eager.mean(axis=0))
    assert eager.std(axis=0).max() > 0  # dropout was on: the passes differ


def test_stateless_predictions_of_models_sharing_a_clone_are_each_their_own():
    from forecastlab.evaluation import predict

    inputs = sliding_windows(sine_wave(10, 4, 0.4, seed=0), 4)[0]
    first, halved = random_model("gru"), random_model("gru")
    halved.set_weights([w * 0.5 for w in first.get_weights()])
    for model in (first, halved, first):  # the second and third calls reuse the clone
        predictions, hidden = stateless_predict(model, inputs)
        np.testing.assert_array_equal(predictions, predict(model, inputs)[..., 0])
        assert hidden.shape == (len(inputs), 3)
