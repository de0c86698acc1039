"""What each architecture name of params.yaml is: a plan of named layers.

A plan is plain data, free of TensorFlow, so that the Keras builder (`forecastlab.models`)
and the numpy forward pass (`forecastlab.handcheck`) read one description and cannot
drift apart; what each layer kind is, for both, is its entry of `forecastlab.layers`.
Hyperparameters (`hp`, one entry of a study's `models`) shape the plan: the layer sizes
(`units`, a number or a list for a stack), the output head (`head`) and the target the
model learns (`target`), which fixes its output:

    next            (n, 1)     the value after the window
    horizon         (n, H)     the next H values (seq-to-vector)
    shifted         (n, L, 1)  the next value at every step (seq-to-seq)
    shifted_horizon (n, L', H) the next H values at every step (L' = L unless a
                               strided convolution shortens the sequence)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from forecastlab.layers import LAYER_KINDS, Layer

WINDOW_TARGETS = ("next", "horizon")
PER_STEP_TARGETS = ("shifted", "shifted_horizon")
# The name of the evaluation mode of a model's window forecasts, by target.
WINDOW_MODE = {
    "next": "stateless",
    "shifted": "stateless",
    "horizon": "direct",
    "shifted_horizon": "seq2seq",
}

Plan = Callable[..., list[Layer]]


@dataclass(frozen=True)
class Architecture:
    """How to lay out an architecture: plan(hp, input_length, horizon, sequences).

    targets: the targets it can learn. trained: False for baselines with nothing to
    learn. recurrent: its state carries from step to step, so the stateful evaluation
    modes apply; `sequences=True` asks for the twin that returns a forecast at every step.
    stateful_training: trained as a Keras stateful model on contiguous chunks of the
    series, the state carried across batches (`forecastlab.training.fit_stateful`).
    xla: its training steps are compiled with XLA, which fuses their many small operations;
    False where XLA's step is slower than TensorFlow's own kernels (bench/seed_batching.py).
    """

    plan: Plan
    targets: tuple[str, ...] = WINDOW_TARGETS + PER_STEP_TARGETS
    trained: bool = True
    recurrent: bool = False
    stateful_training: bool = False
    xla: bool = True


def target_of(hp: Mapping[str, Any]) -> str:
    """The target a model learns (params.yaml's default: next)."""
    return hp.get("target", "next")


def output_size(hp: Mapping[str, Any], horizon: int) -> int:
    """Values forecast per step: 1 for next and shifted targets, H for the horizon ones."""
    return horizon if target_of(hp) in ("horizon", "shifted_horizon") else 1


def head(hp: Mapping[str, Any], horizon: int, per_step: bool) -> list[Layer]:
    """The Dense output layer, applied at every step (TimeDistributed) or to the last."""
    if hp.get("head", "dense") == "none":
        return []  # the last recurrent layer's state is the forecast (textbook SimpleRNN(1))
    units = output_size(hp, horizon)
    activation = hp.get("output_activation", "linear")
    kind = "time_dense" if per_step else "dense"
    return [Layer(kind, "dense", {"units": units, "activation": activation})]


def recurrent_stack(
    kind: str,
    hp: Mapping[str, Any],
    input_length: int | None,
    horizon: int = 1,
    sequences: bool = False,
    batch_norm: bool = False,
) -> list[Layer]:
    """Recurrent layers of `hp["units"]` (an int or a list, one entry a layer), each
    followed by BatchNormalization with `batch_norm` (the textbook's variant: between
    recurrent layers, not inside them) and by Dropout when `hp["dropout"]` > 0, then the
    head.

    Every layer but the last returns sequences; the last does too for per-step targets or
    when `sequences` asks for a forecast at every step (the stateful twin).
    """
    units = hp["units"] if isinstance(hp["units"], list) else [hp["units"]]
    per_step = sequences or target_of(hp) in PER_STEP_TARGETS
    base = LAYER_KINDS[kind].stack_name
    layers = []
    for index, size in enumerate(units, start=1):
        name = base if len(units) == 1 else f"{base}_{index}"
        returns_sequences = per_step or index < len(units)
        config = {
            "units": size,
            "activation": hp.get("activation", "tanh"),
            "return_sequences": returns_sequences,
        }
        layers.append(Layer(kind, name, config))
        if batch_norm:
            layers.append(Layer("batch_norm", f"batch_norm_{index}"))
        if hp.get("dropout", 0.0) > 0:
            layers.append(Layer("dropout", f"dropout_{index}", {"rate": hp["dropout"]}))
    return layers + head(hp, horizon, per_step)


def conv_gru_plan(
    hp: Mapping[str, Any], input_length: int | None, horizon: int = 1, sequences: bool = False
) -> list[Layer]:
    """The textbook's Conv1D (valid, strided) in front of a GRU stack, seq-to-seq."""
    conv = Layer(
        "conv1d",
        "conv",
        {
            "filters": hp["filters"],
            "kernel_size": hp["kernel_size"],
            "strides": hp["strides"],
            "padding": "valid",
            "dilation_rate": 1,
            "activation": "linear",
        },
    )
    return [conv, *recurrent_stack("gru", hp, input_length, horizon, sequences)]


def wavenet_plan(
    hp: Mapping[str, Any], input_length: int | None, horizon: int = 1, sequences: bool = False
) -> list[Layer]:
    """Causal Conv1D layers (relu) with the listed dilations, then Conv1D(H, 1)."""
    layers = [
        Layer(
            "conv1d",
            f"conv_{index}",
            {
                "filters": hp["filters"],
                "kernel_size": hp["kernel_size"],
                "strides": 1,
                "padding": "causal",
                "dilation_rate": rate,
                "activation": "relu",
            },
        )
        for index, rate in enumerate(hp["dilations"], start=1)
    ]
    output = {
        "filters": output_size(hp, horizon),
        "kernel_size": 1,
        "strides": 1,
        "padding": "valid",
        "dilation_rate": 1,
        "activation": "linear",
    }
    return [*layers, Layer("conv1d", "output", output)]


def linear_plan(
    hp: Mapping[str, Any], input_length: int | None, horizon: int = 1, sequences: bool = False
) -> list[Layer]:
    """Flatten the window, one Dense layer: a linear autoregression."""
    return [Layer("flatten", "flatten"), *head(hp, horizon, per_step=False)]


def td_dense_plan(
    hp: Mapping[str, Any], input_length: int | None, horizon: int = 1, sequences: bool = False
) -> list[Layer]:
    """The same Dense applied at every step (TimeDistributed, the fifth tutorial's part A)."""
    return head(hp, horizon, per_step=True)


def naive_plan(
    hp: Mapping[str, Any], input_length: int | None, horizon: int = 1, sequences: bool = False
) -> list[Layer]:
    """The last value of the window, repeated over the horizon; no weights."""
    return [
        Layer("crop", "last_value", {"start": input_length - 1, "end": 0}),
        Layer("flatten", "flatten"),
        Layer("repeat", "repeat", {"times": output_size(hp, horizon)}),
        Layer("flatten", "forecast"),
    ]


def seasonal_naive_plan(
    hp: Mapping[str, Any], input_length: int | None, horizon: int = 1, sequences: bool = False
) -> list[Layer]:
    """Step k ahead is the value one season before it: window[L - season + k]; no weights.

    Needs input_length >= season >= the output size (checked with the params).
    """
    season, size = hp["season"], output_size(hp, horizon)
    return [
        Layer("crop", "season_back", {"start": input_length - season, "end": season - size}),
        Layer("flatten", "forecast"),
    ]


ARCHITECTURES: dict[str, Architecture] = {
    "naive": Architecture(naive_plan, WINDOW_TARGETS, trained=False),
    "seasonal_naive": Architecture(seasonal_naive_plan, WINDOW_TARGETS, trained=False),
    "linear": Architecture(linear_plan, WINDOW_TARGETS),
    # The textbook's linear forecaster of the next H values at once: Flatten + Dense(H).
    "linear_direct": Architecture(linear_plan, ("horizon",)),
    "td_dense": Architecture(td_dense_plan, PER_STEP_TARGETS),
    # SimpleRNN stacks; the names are the tutorials' models, the params give their shapes.
    **{
        name: Architecture(partial(recurrent_stack, "simple_rnn"), recurrent=True)
        for name in (
            "rnn1",
            "rnn3",
            "deep_rnn",
            "deep_rnn_dense",
            "seq2vec",
            "seq2seq",
            "relu_rnn",
        )
    },
    # XLA's step is 3.0 times slower here: its dropout masks cost more than the RNN.
    "mc_rnn": Architecture(partial(recurrent_stack, "simple_rnn"), recurrent=True, xla=False),
    "bn_rnn": Architecture(
        partial(recurrent_stack, "simple_rnn", batch_norm=True), PER_STEP_TARGETS, recurrent=True
    ),
    "ln_rnn": Architecture(partial(recurrent_stack, "ln_simple_rnn"), recurrent=True),
    "lstm": Architecture(partial(recurrent_stack, "lstm"), recurrent=True),
    "gru": Architecture(partial(recurrent_stack, "gru"), recurrent=True),
    # The remedy the first tutorial's author tried next: the same models trained statefully.
    **{
        f"stateful_{name}": Architecture(
            partial(recurrent_stack, kind), ("next",), recurrent=True, stateful_training=True
        )
        for name, kind in (
            ("rnn1", "simple_rnn"),
            ("rnn3", "simple_rnn"),
            ("lstm", "lstm"),
            ("gru", "gru"),
        )
    },
    "conv_gru": Architecture(conv_gru_plan, PER_STEP_TARGETS),
    # XLA's step is 4.3 times slower here: its dilated causal convolutions are slow.
    "wavenet": Architecture(wavenet_plan, PER_STEP_TARGETS, xla=False),
}


def architecture(arch: str) -> Architecture:
    """The registry entry of `arch`, or a KeyError listing the known names."""
    if arch not in ARCHITECTURES:
        raise KeyError(f"unknown architecture {arch!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[arch]


def plan(
    arch: str,
    hp: Mapping[str, Any],
    input_length: int | None,
    horizon: int = 1,
    sequences: bool = False,
) -> list[Layer]:
    """The layers of `arch` with hyperparameters `hp` (see the module docstring)."""
    return architecture(arch).plan(hp, input_length, horizon, sequences)


def hidden_layer(layers: list[Layer]) -> str | None:
    """The name of the last recurrent layer: its states are shown and verified by hand."""
    names = [layer.name for layer in layers if LAYER_KINDS[layer.kind].recurrent]
    return names[-1] if names else None


def has_stateful_modes(arch: str, hp: Mapping[str, Any]) -> bool:
    """Whether a state carried along one series makes a forecast at every step: recurrent
    architectures whose per-step output is the next value."""
    return architecture(arch).recurrent and target_of(hp) in ("next", "shifted")


def applies(arch: str, hp: Mapping[str, Any], input_length: int) -> bool:
    """Whether `arch` can forecast from windows of `input_length`: the seasonal naive
    baseline needs a whole season in the window; the others take any length."""
    return arch != "seasonal_naive" or input_length >= hp["season"]


def target_steps(arch: str, hp: Mapping[str, Any]) -> slice:
    """Which steps of per-step targets a model's outputs line up with: after a valid
    strided convolution, output j sees inputs up to (kernel - 1) + strides * j, as the
    textbook's Y[:, 3::2]."""
    if arch == "conv_gru":
        return slice(hp["kernel_size"] - 1, None, hp["strides"])
    return slice(None)
