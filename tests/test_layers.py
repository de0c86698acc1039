"""forecastlab.layers: every layer kind's Keras layer, numpy pass and report entries agree."""

import subprocess
import sys

import numpy as np
import pytest

from forecastlab.architectures import ARCHITECTURES, plan
from forecastlab.layers import LAYER_KINDS, Layer, layer_kind, layer_weights
from tests.conftest import TINY_HORIZON, TINY_LENGTH, TINY_MODELS, tiny_model_hp

RNG = np.random.default_rng(5)
STEPS, FEATURES = 6, 2
RECURRENT = {"units": 3, "activation": "tanh", "return_sequences": True}
# One layer of each kind, as a plan would lay it out, on inputs (n, STEPS, FEATURES).
SAMPLES = {
    "simple_rnn": Layer("simple_rnn", "RNN", RECURRENT),
    "lstm": Layer("lstm", "LSTM", {**RECURRENT, "activation": "relu"}),
    "gru": Layer("gru", "GRU", {**RECURRENT, "return_sequences": False}),
    "ln_simple_rnn": Layer("ln_simple_rnn", "LNRNN", RECURRENT),
    "dense": Layer("dense", "dense", {"units": 2, "activation": "sigmoid"}),
    "time_dense": Layer("time_dense", "dense", {"units": 2, "activation": "linear"}),
    "conv1d": Layer(
        "conv1d",
        "conv",
        {
            "filters": 4,
            "kernel_size": 2,
            "strides": 2,
            "padding": "valid",
            "dilation_rate": 1,
            "activation": "relu",
        },
    ),
    "flatten": Layer("flatten", "flatten"),
    "dropout": Layer("dropout", "dropout_1", {"rate": 0.5}),
    "batch_norm": Layer("batch_norm", "batch_norm_1"),
    "crop": Layer("crop", "season_back", {"start": 2, "end": 1}),
    "repeat": Layer("repeat", "repeat", {"times": 3}),
}
# Inputs (n, STEPS, FEATURES), but a vector (n, FEATURES) for the kinds that need one.
VECTOR_KINDS = ("repeat",)


def test_every_kind_has_a_sample_and_every_plan_only_known_kinds():
    assert sorted(SAMPLES) == sorted(LAYER_KINDS)
    planned = {
        layer.kind
        for arch in TINY_MODELS
        for sequences in (False, True)
        for layer in plan(arch, tiny_model_hp(arch), TINY_LENGTH, TINY_HORIZON, sequences)
    }
    assert planned <= set(LAYER_KINDS)
    assert {"simple_rnn", "lstm", "gru", "ln_simple_rnn", "conv1d", "crop"} <= planned
    assert set(TINY_MODELS) <= set(ARCHITECTURES)


def test_an_unknown_kind_names_the_known_ones():
    with pytest.raises(
        KeyError, match="unknown layer kind .attention.; known: batch_norm, conv1d, crop, dense"
    ):
        layer_kind("attention")


def test_recurrent_kinds_name_their_layers():
    names = {name: kind.stack_name for name, kind in LAYER_KINDS.items() if kind.recurrent}
    assert names == {"simple_rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "ln_simple_rnn": "LNRNN"}
    assert [layer.name for layer in plan("lstm", {"units": [2, 2]}, 4)] == [
        "LSTM_1",
        "LSTM_2",
        "dense",
    ]


@pytest.mark.parametrize("kind", sorted(LAYER_KINDS))
def test_numpy_pass_equals_the_keras_layer(kind):
    import keras

    layer = SAMPLES[kind]
    shape = (FEATURES,) if kind in VECTOR_KINDS else (STEPS, FEATURES)
    inputs = keras.Input(shape=shape)
    built = LAYER_KINDS[kind].keras(layer, False, True)
    model = keras.Model(inputs, built(inputs))
    for variable in built.weights:  # a variance must be positive (BatchNormalization's)
        drawn = RNG.normal(scale=0.5, size=variable.shape)
        variable.assign(np.abs(drawn) if "variance" in variable.name else drawn)
    assert built.name == layer.name
    weights = {f"{layer.name}/{v.name}": np.asarray(v.numpy()) for v in built.weights}
    x = RNG.normal(size=(4, *shape)).astype(np.float32)
    hand = LAYER_KINDS[kind].output(layer, layer_weights(weights, layer.name), x)
    keras_values = model.predict(x, verbose=0)
    assert hand.shape == keras_values.shape
    np.testing.assert_allclose(hand, keras_values, atol=1e-5)


@pytest.mark.parametrize(
    "kind", sorted(name for name, kind in LAYER_KINDS.items() if kind.details is not None)
)
def test_the_reports_details_end_at_the_numpy_pass(kind):
    layer = SAMPLES[kind]
    shapes = {
        "kernel": (FEATURES, 3),
        "recurrent_kernel": (3, 3),
        "bias": (3,),
    }
    if kind == "lstm":
        shapes = {"kernel": (FEATURES, 12), "recurrent_kernel": (3, 12), "bias": (12,)}
    elif kind == "gru":
        shapes = {"kernel": (FEATURES, 9), "recurrent_kernel": (3, 9), "bias": (2, 9)}
    elif kind in ("dense", "time_dense"):
        shapes = {"kernel": (FEATURES, 2), "bias": (2,)}
    elif kind == "dropout":
        shapes = {}
    w = {name: RNG.normal(size=shape) for name, shape in shapes.items()}
    x = RNG.normal(size=(1, STEPS, FEATURES))
    values = {"input": x[0], **{q: v[0] for q, v in LAYER_KINDS[kind].numpy(layer, w, x).items()}}
    for t in range(STEPS):
        columns = LAYER_KINDS[kind].details(layer, w, values, t)
        np.testing.assert_allclose(list(columns.values())[-1], values["h"][t], atol=1e-12)


def test_equations_and_gate_blocks():
    gru = LAYER_KINDS["gru"]
    layer = SAMPLES["gru"]
    assert gru.gate_blocks(layer, "kernel") == (
        "columns 0-2: z (update gate), 3-5: r (reset gate), 6-8: h (candidate)"
    )
    assert gru.gate_blocks(layer, "bias").startswith("row 0 input bias, row 1 recurrent bias")
    assert LAYER_KINDS["simple_rnn"].gate_blocks(SAMPLES["simple_rnn"], "kernel") == ""
    lines, legend = LAYER_KINDS["simple_rnn"].equations(SAMPLES["simple_rnn"], 2, "x<sub>t</sub>")
    assert lines == [
        "h<sup>(2)</sup><sub>t</sub> = tanh(x<sub>t</sub> W<sup>(2)</sup> + "
        "h<sup>(2)</sup><sub>t&minus;1</sub> U<sup>(2)</sup> + b<sup>(2)</sup>), "
        "h<sup>(2)</sup><sub>0</sub> = 0"
    ]
    assert "<code>RNN/recurrent_kernel</code>" in legend
    assert LAYER_KINDS["dropout"].training_only and not LAYER_KINDS["dense"].training_only


def test_importing_the_registry_starts_no_tensorflow():
    code = (
        "import sys, forecastlab.layers, forecastlab.handcheck; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
