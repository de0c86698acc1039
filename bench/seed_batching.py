"""Benchmark for issue 28: can a model's seed replicates train in one graph for about the
price of one?

On one (study, window, architecture) of params.yaml it measures the milliseconds of one
training step (forward, gradients, optimizer update; each seed its own batch) in one
process per variant:

- `today`: one seed as the fast trainer steps it (the Keras model called, the compiled
  loss, `apply_gradients`), the cost per seed now;
- `xla`: one seed stepped the same way in a graph compiled with XLA (`jit_compile`), as
  forecastlab.training now trains each seed of a group, one after another;
- `vmap S`: S seeds at once, the model's `stateless_call` vectorized over stacked weights
  with `tf.vectorized_map` layer by layer (a recurrent layer's cell inside one loop over
  time), the optimizer applied to the stacked variables.

It also trains seed 0 for the steps measured in a group of one and in a group of S and
says whether its weights agree bitwise (a seed must not depend on its group). It writes
bench/results/seed_batching.json and a Markdown table to stdout.

    python bench/seed_batching.py [--model synthetic/w50/gru] [--steps 50] [--seeds 1 3 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def build(study: str, length: int, arch: str, seeds: int):
    """The validated hyperparameters, training windows and targets, and `seeds` models
    built from seeds 42, 43, ... (as the pipeline seeds its replicates)."""
    from forecastlab.architectures import target_steps
    from forecastlab.config import load_yaml, validate_params
    from forecastlab.io import read_npz
    from forecastlab.layout import windows_file
    from forecastlab.models import build_model, compile_model
    from forecastlab.numerics import configure
    from forecastlab.windows import horizon_of, model_targets

    params = validate_params(
        load_yaml(ROOT / "params.yaml"), load_yaml(ROOT / "workflow/schemas/params.schema.yaml")
    )
    hp = params["studies"][study]["models"][arch]
    windows = read_npz(ROOT / windows_file(study, length))
    targets = model_targets(windows, "train", hp["target"], target_steps(arch, hp))
    models = []
    for seed in range(seeds):
        configure(42 + seed)
        model = build_model(arch, hp, length, horizon=horizon_of(windows))
        models.append(compile_model(model, hp))
    return hp, windows["train_inputs"], targets, models


def orders(n: int, batch: int, steps: int, seeds: int) -> np.ndarray:
    """(seeds, steps, batch) window indices, seed 0's the same in every group size."""
    return np.stack(
        [
            np.stack([np.random.default_rng(s).permutation(n)[:batch] for _ in range(steps)])
            for s in range(seeds)
        ]
    ).astype(np.int32)


def today(model_name: str, steps: int, jit_compile: bool = False) -> dict:
    """One seed stepped as training.compiled_epochs stepped it before XLA (or with it)."""
    from forecastlab.numerics import pin_environment

    pin_environment()  # before TensorFlow loads
    import tensorflow as tf

    study, window, arch = model_name.split("/")
    hp, x, y, (model,) = build(study, int(window[1:]), arch, 1)
    index = tf.constant(orders(len(x), hp["batch_size"], steps, 1)[0])
    x, y = tf.constant(x), tf.constant(y)

    @tf.function(jit_compile=jit_compile)
    def run():
        for k in tf.range(steps):
            xb, yb = tf.gather(x, index[k]), tf.gather(y, index[k])
            with tf.GradientTape() as tape:
                loss = model.compute_loss(x=xb, y=yb, y_pred=model(xb, training=True))
            gradients = tape.gradient(loss, model.trainable_variables)
            model.optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))

    started = time.perf_counter()
    run()  # traces (and compiles)
    first = time.perf_counter() - started
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    return {"ms_per_step": 1000 * seconds / steps, "first_call_seconds": first}


def vmapped(model_name: str, steps: int, seeds: int) -> dict:
    """S seeds stepped at once with vectorized stateless calls; seed 0's final weights."""
    from forecastlab.numerics import pin_environment

    pin_environment()  # before TensorFlow loads
    import keras
    import tensorflow as tf

    study, window, arch = model_name.split("/")
    hp, x, y, models = build(study, int(window[1:]), arch, seeds)
    layers = models[0].layers[1:]

    def stacked(per_model):
        return [
            keras.Variable(tf.stack([v.value for v in group]), trainable=group[0].trainable)
            for group in zip(*per_model, strict=True)
        ]

    trainable = {
        layer.name: stacked([m.get_layer(layer.name).trainable_variables for m in models])
        for layer in layers
    }
    fixed = {
        layer.name: stacked([m.get_layer(layer.name).non_trainable_variables for m in models])
        for layer in layers
    }
    variables = [v for layer in layers for v in trainable[layer.name]]
    optimizer = keras.optimizers.get(
        {"class_name": hp["optimizer"], "config": {"learning_rate": hp["learning_rate"]}}
    )
    optimizer.build(variables)

    def vmap(function, arguments):
        return tf.vectorized_map(function, arguments, fallback_to_while_loop=False)

    def recurrent(layer, weights, states_fixed, inputs):
        cell, length = layer.cell, inputs.shape[2]
        steps_in = tf.TensorArray(inputs.dtype, size=length).unstack(
            tf.transpose(inputs, [2, 0, 1, 3])
        )
        sizes = cell.state_size if isinstance(cell.state_size, list | tuple) else [cell.state_size]
        states = [tf.zeros([seeds, inputs.shape[1], size]) for size in sizes]
        outputs = tf.TensorArray(inputs.dtype, size=length)

        def body(t, outputs, *states):
            def one(arguments):
                w, f, x_t, state = arguments
                (h, new), _ = cell.stateless_call(w, f, x_t, list(state), training=True)
                return h, new

            h, new = vmap(one, (weights, states_fixed, steps_in.read(t), list(states)))
            return (t + 1, outputs.write(t, h), *new)

        _, outputs, *_ = tf.while_loop(lambda t, *_: t < length, body, (0, outputs, *states))
        if layer.return_sequences:
            return tf.transpose(outputs.stack(), [1, 2, 0, 3])
        return outputs.read(length - 1)

    def forward(inputs):
        for layer in layers:
            w = [v.value for v in trainable[layer.name]]
            f = [v.value for v in fixed[layer.name]]
            if isinstance(layer, keras.layers.RNN):
                inputs = recurrent(layer, w, f, inputs)
            else:
                inputs, _ = vmap(
                    lambda a, layer=layer: layer.stateless_call(a[0], a[1], a[2], training=True),
                    (w, f, inputs),
                )
        return inputs

    index = tf.constant(orders(len(x), hp["batch_size"], steps, seeds))
    x, y = tf.constant(x), tf.constant(y)

    @tf.function
    def run():
        for k in tf.range(steps):
            xb, yb = tf.gather(x, index[:, k]), tf.gather(y, index[:, k])
            with tf.GradientTape() as tape:
                predictions = forward(xb)
                errors = tf.reshape(
                    tf.square(predictions - tf.reshape(yb, tf.shape(predictions))), [seeds, -1]
                )
                loss = tf.reduce_sum(tf.reduce_mean(errors, axis=1))
            gradients = tape.gradient(loss, variables)
            optimizer.apply(gradients, variables)

    run()  # traces and steps
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    return {
        "ms_per_step": 1000 * seconds / steps,
        "ms_per_seed_step": 1000 * seconds / steps / seeds,
        "seed0": [v.numpy()[0].tolist() for v in variables],
    }


def in_process(model_name: str, variant: str, steps: int, seeds: int) -> dict:
    """One variant in a fresh, pinned process (the thread pools and seeds as a job's)."""
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import seed_batching as b; "
        "print(json.dumps(b.today(sys.argv[2], int(sys.argv[4]), sys.argv[3] == 'xla') "
        "if sys.argv[3] in ('today', 'xla') "
        "else b.vmapped(sys.argv[2], int(sys.argv[4]), int(sys.argv[5]))))"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(ROOT / "bench"),
            model_name,
            variant,
            str(steps),
            str(seeds),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="synthetic/w50/gru")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--output", default="bench/results/seed_batching.json")
    args = parser.parse_args(argv)
    found = {
        "today": in_process(args.model, "today", args.steps, 1),
        "xla": in_process(args.model, "xla", args.steps, 1),
    }
    for seeds in args.seeds:
        found[f"vmap {seeds}"] = in_process(args.model, "vmap", args.steps, seeds)
    alone = found.get("vmap 1", {}).get("seed0")
    for result in found.values():
        seed0 = result.pop("seed0", None)
        if alone is not None and seed0 is not None:
            result["seed0_bitwise_as_alone"] = seed0 == alone
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(
        json.dumps({"model": args.model, "steps": args.steps, **found}, indent=2) + "\n"
    )
    base = found["today"]["ms_per_step"]
    print(f"{args.model}, {args.steps} steps\n")
    print(
        "| variant | ms per step | ms per seed and step | vs today | first call (trace, "
        "compile) | seed 0 as alone |"
    )
    print("|---|---:|---:|---:|---:|---|")
    for name, result in found.items():
        per_seed = result.get("ms_per_seed_step", result["ms_per_step"])
        first = f"{result['first_call_seconds']:.1f} s" if "first_call_seconds" in result else ""
        print(
            f"| {name} | {result['ms_per_step']:.1f} | {per_seed:.1f} | {base / per_seed:.2f} | "
            f"{first} | {result.get('seed0_bitwise_as_alone', '')} |"
        )


if __name__ == "__main__":
    main()
