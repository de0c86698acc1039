"""Benchmark: stateful evaluation in one call against the per-step predict loop, on real data.

The daily minimum temperatures study as params.yaml configures it (chronological split with
validation_share 0.1 and test_share 0.2, standard scaler fitted on the training part): its
test part (730 days) runs through a seeded random-weight rnn1 model (SimpleRNN(1) + Dense),
once as the tutorial's stateful batch-1 model fed one value per `predict` call, once with
`stateful_predict` (one call). They must agree within 1e-5, or the script fails. The warm and
reset-every-L modes are timed too (one call each, no per-step counterpart run). The
model's return_sequences twin is built and traced on its first call and reused after, as
an evaluation job reuses it across modes: the first call's time includes that, the best
call's is the recurrence itself. Usage:

    python bench/stateful_modes.py [--steps N] [--output bench/results/stateful_modes.json]

--steps limits the per-step loop to the first N test points (its time is then scaled to the
whole test part and marked as such); by default it runs over all of them (about a minute).
A Markdown table with the same figures is written next to the JSON file.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

import forecastlab  # noqa: F401  (pins the numerics before TensorFlow loads)

STUDY = "daily_min_temperatures"
TOLERANCE = 1e-5


def timed(function, repeats: int) -> tuple[object, float, float]:
    """function()'s result, the first call's seconds (tracing included) and the best call's."""
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - started)
    return result, seconds[0], min(seconds)


def markdown(result: dict) -> str:
    """The timings as a Markdown table, per-step loop against each one-call mode."""
    per_step = result["per_step_seconds_whole_test"]
    rows = [
        "| mode | seconds | per-step loop / this |",
        "|---|---:|---:|",
        f"| per-step `predict` loop, batch-1 stateful model | {per_step:.3f} | 1 |",
    ]
    for name, timing in result["one_call"].items():
        for which in ("first", "best"):
            seconds = timing[f"seconds_{which}"]
            rows.append(f"| {name}, {which} call | {seconds:.4f} | {per_step / seconds:.0f}x |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--params", default="params.yaml", help="where the study is configured")
    parser.add_argument(
        "--steps", type=int, default=None, help="per-step loop length (default: all)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="one-call repeats (best is kept)")
    parser.add_argument("--every", type=int, default=30, help="L of the reset-every-L mode")
    parser.add_argument("--seed", type=int, default=0, help="seeds the model's weights")
    parser.add_argument("--output", default="bench/results/stateful_modes.json")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    from forecastlab.config import load_yaml
    from forecastlab.data import chronological_split, fit_scaler, load_series, scale, split_sizes
    from forecastlab.evaluation import (
        stateful_predict,
        stateful_predict_stepwise,
        stateful_reset_predict,
        stateful_warm_predict,
    )
    from forecastlab.models import build_model

    study = load_yaml(args.params)["studies"][STUDY]
    _, values = load_series(study["source"], study["seed"])
    sizes = split_sizes(len(values), **study["split"])
    parts = chronological_split(values, sizes)
    offset, scale_ = fit_scaler(study["scaler"], parts["train"])
    history = scale(np.concatenate([parts["train"], parts["validation"]]), offset, scale_)
    test = scale(parts["test"], offset, scale_)

    hp = {"units": 1, "activation": "tanh"}
    keras.utils.set_random_seed(args.seed)
    model = build_model("rnn1", hp, None)
    steps = min(args.steps or len(test), len(test))

    one_call, first, best = timed(lambda: stateful_predict(model, "rnn1", hp, test), args.repeats)
    timings = {"stateful_predict": {"seconds_first": first, "seconds_best": best}}
    other_modes = {
        "stateful_warm_predict": lambda: stateful_warm_predict(model, "rnn1", hp, history, test),
        f"stateful_reset_predict (L={args.every})": lambda: stateful_reset_predict(
            model, "rnn1", hp, test, args.every
        ),
    }
    for name, function in other_modes.items():
        _, first, best = timed(function, args.repeats)
        timings[name] = {"seconds_first": first, "seconds_best": best}

    started = time.perf_counter()
    stepwise = stateful_predict_stepwise(model, "rnn1", hp, test[:steps])
    stepwise_seconds = time.perf_counter() - started
    stepwise_whole = stepwise_seconds * len(test) / steps
    for timing in timings.values():
        timing["speedup_first"] = stepwise_whole / timing["seconds_first"]
        timing["speedup_best"] = stepwise_whole / timing["seconds_best"]

    max_diff = float(np.abs(one_call[0][:steps] - stepwise).max())
    result = {
        "study": STUDY,
        "split": dict(zip(("train", "validation", "test"), sizes, strict=True)),
        "history_length": len(history),
        "test_length": len(test),
        "per_step_points_run": steps,
        "per_step_seconds": stepwise_seconds,
        "per_step_seconds_whole_test": stepwise_whole,
        "per_step_ms_per_step": 1000 * stepwise_seconds / steps,
        "one_call": timings,
        "max_abs_difference": max_diff,
        f"equal_within_{TOLERANCE:g}": max_diff < TOLERANCE,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    output.with_suffix(".md").write_text(markdown(result))

    scaled = "" if steps == len(test) else f" (scaled from {steps} steps)"
    print(f"{STUDY}: stateful evaluation of the {len(test)}-day test part, SimpleRNN(1)")
    print(
        f"  {'per-step predict loop':<34}: {stepwise_whole:.3f} s{scaled}, "
        f"{result['per_step_ms_per_step']:.1f} ms/step"
    )
    for name, timing in timings.items():
        print(
            f"  {name:<34}: first {timing['seconds_first']:.4f} s "
            f"({timing['speedup_first']:.0f}x), best {timing['seconds_best']:.4f} s "
            f"({timing['speedup_best']:.0f}x)"
        )
    print(f"  {'max |difference|':<34}: {max_diff:.2e}  -> {output}, {output.with_suffix('.md')}")
    # The speed-up only counts if the one-call pass computes the same forecasts.
    if max_diff >= TOLERANCE:
        raise SystemExit(f"one call and per-step loop differ by {max_diff:.2e} >= {TOLERANCE:g}")


if __name__ == "__main__":
    main()
