"""Small models that exercise every processor-dependent path, trained in this process.

Run as `python -m tests.crossproc [--unpin-caches]`: it trains MODELS, each through the
library as the pipeline trains it, and prints one JSON object {model: sha256 of its
weights and of its predictions}, plus CONTROL, a digest of TensorFlow's approximate Rsqrt
kernel that the pin keeps out of the models. tests/test_crossproc.py runs it natively, under the
CPUID cache shim and under qemu, and compares. The sizes are chosen to reach what depends
on the processor: batches of 600 make the weight gradients products of depth 600, which
Eigen splits by the L1 size (288 at 32 KiB, 432 at 48 KiB, none at 96 KiB); 120 relu
units make the orthogonal initializer's QR block by cache; layers of 16 or more units and
batches of 600 fill the 8-wide packets that the approximate reciprocals act on.
"""

from __future__ import annotations

import argparse
import hashlib
import json

import numpy as np

LENGTH, HORIZON = 8, 3
CONTROL = "control: approximate rsqrt kernel"
# name: (architecture, its hyperparameters over the schema's defaults). Together: every
# layer kind and both optimizers of the default params, and stateful training.
MODELS: dict[str, tuple[str, dict]] = {
    "simple_rnn_adam": ("rnn1", {"units": 16}),
    "deep_rnn_dense_rmsprop": ("deep_rnn_dense", {"units": [24, 24], "optimizer": "rmsprop"}),
    "lstm_rmsprop": ("lstm", {"units": [16], "optimizer": "rmsprop"}),
    "gru_adam": ("gru", {"units": 16, "target": "shifted"}),
    "ln_rnn_adam": ("ln_rnn", {"units": [16, 16], "target": "shifted_horizon"}),
    "bn_rnn_adam": ("bn_rnn", {"units": [16, 16], "target": "shifted_horizon"}),
    "wavenet_adam": (
        "wavenet",
        {"target": "shifted_horizon", "filters": 16, "dilations": [1, 2, 4]},
    ),
    "conv_gru_rmsprop": (
        "conv_gru",
        {
            "units": [16, 16],
            "target": "shifted_horizon",
            "filters": 16,
            "kernel_size": 4,
            "optimizer": "rmsprop",
        },
    ),
    "mc_rnn_adam": ("mc_rnn", {"units": [16, 16], "dropout": 0.2, "mc_samples": 3}),
    "relu_rnn_adam": (
        "relu_rnn",
        {"units": 120, "activation": "relu", "target": "shifted", "loss": "sse"},
    ),
    "stateful_gru_rmsprop": (
        "stateful_gru",
        {"units": 16, "batch_size": 8, "optimizer": "rmsprop", "epochs": 2},
    ),
}


def series(n_points: int = 1300) -> np.ndarray:
    """A noisy wave: (n_points,) float32."""
    steps = np.arange(n_points)
    return (np.sin(steps * 0.3) + 0.3 * np.cos(steps * 1.7)).astype("float32")


def trained(name: str, seeds: list[int]) -> dict[int, str]:
    """{seed: digest of its weights and predictions} of MODELS[name], its seeds trained
    in that order as one group (forecastlab.training.SeedGroup), in this process."""
    from forecastlab import numerics
    from forecastlab.config import load_yaml
    from forecastlab.models import export_weights
    from forecastlab.training import SeedGroup
    from forecastlab.windows import cut_windows
    from tests.conftest import REPO

    schema = load_yaml(REPO / "workflow/schemas/params.schema.yaml")
    properties = schema["$defs"]["model"]["properties"].items()
    defaults = {k: v["default"] for k, v in properties if "default" in v}
    values = series()
    inputs, targets, _ = cut_windows(
        values, LENGTH, "sliding", ["next", "shifted", "horizon", "shifted_horizon"], HORIZON
    )
    windows = {"train_inputs": inputs, **{f"train_targets_{k}": v for k, v in targets.items()}}
    training = {"learning_rate": 0.01, "batch_size": 600, "epochs": 3, "validation_split": 0.0}
    arch, overrides = MODELS[name]
    hp = {**defaults, **training, **overrides}
    numerics.configure(seeds[0])
    group = SeedGroup(arch, hp, LENGTH, windows, values)
    digests = {}
    for seed in seeds:
        group.train(seed, f"{name}/seed{seed}")
        digest = hashlib.sha256()
        for key, weights in sorted(export_weights(group.model).items()):
            digest.update(key.encode() + weights.tobytes())
        digest.update(np.asarray(group.model.predict(inputs[:256], verbose=0)).tobytes())
        digests[seed] = digest.hexdigest()[:16]
    return digests


def train_all(names: list[str]) -> dict[str, str]:
    """{name: digest} of MODELS[name] trained from seed 7 in this process."""
    return {name: trained(name, [7])[7] for name in names}


def approximate_rsqrt() -> str:
    """The digest of TensorFlow's own Rsqrt kernel (unpinned) on 4096 values: it starts
    from the rsqrtps instruction, so it differs on a processor whose approximation has
    other bits (the control that shows another processor is being emulated)."""
    from tensorflow.python.ops import gen_math_ops

    values = np.linspace(0.5, 100.0, 4096, dtype="float32")
    return hashlib.sha256(gen_math_ops.rsqrt(values).numpy().tobytes()).hexdigest()[:16]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument(
        "--unpin-caches",
        action="store_true",
        help="the control: leave Eigen's cache sizes as this processor reports them",
    )
    args = parser.parse_args(argv)
    from forecastlab import numerics

    if args.unpin_caches:
        numerics.pin_eigen_caches = lambda: {}
    print(json.dumps({**train_all(args.models), CONTROL: approximate_rsqrt()}))


if __name__ == "__main__":
    main()
