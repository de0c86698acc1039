"""Benchmark: stateful evaluation in one call against the tutorial's per-step predict loop.

Both run side by side in this process, on the default sine study's test series (1251
points) with the 5-weight model, and must give equal forecasts. Usage:

    python bench/stateful_eval.py [--steps N] [--output bench/results/stateful_eval.json]

--steps limits the per-step loop to the first N points (its time is then scaled to the
whole series and marked as such); by default it runs over all of them (about 2 minutes).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

import forecastlab  # noqa: F401  (pins the numerics before TensorFlow loads)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="per-step loop length (default: all)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="one-call repeats (best is kept)")
    parser.add_argument("--output", default="bench/results/stateful_eval.json")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    from forecastlab.data import chronological_split, sine_wave, split_sizes
    from forecastlab.evaluation import stateful_predict, stateful_predict_stepwise
    from forecastlab.models import build_model

    hp = {"units": 1, "activation": "tanh"}
    keras.utils.set_random_seed(0)
    model = build_model("rnn1", hp, 2)
    series = sine_wave(10, 500, 0.0, seed=42)
    test = chronological_split(series, split_sizes(len(series), 0.25))["test"]
    steps = min(args.steps or len(test), len(test))

    one_call_times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        one_call, _ = stateful_predict(model, "rnn1", hp, test)
        one_call_times.append(time.perf_counter() - started)

    started = time.perf_counter()
    stepwise = stateful_predict_stepwise(model, "rnn1", hp, test[:steps])
    stepwise_seconds = time.perf_counter() - started
    stepwise_full = stepwise_seconds * len(test) / steps

    max_diff = float(np.abs(one_call[:steps] - stepwise).max())
    result = {
        "series_length": len(test),
        "per_step_points_run": steps,
        "per_step_seconds": stepwise_seconds,
        "per_step_seconds_whole_series": stepwise_full,
        "per_step_ms_per_step": 1000 * stepwise_seconds / steps,
        "one_call_seconds_best": min(one_call_times),
        "one_call_seconds_first": one_call_times[0],
        "speedup_vs_best": stepwise_full / min(one_call_times),
        "speedup_vs_first": stepwise_full / one_call_times[0],
        "max_abs_difference": max_diff,
        "equal_within_1e-5": max_diff <= 1e-5,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    scaled = "" if steps == len(test) else f" (scaled from {steps} steps)"
    print(f"stateful evaluation of {len(test)} steps, 5-weight SimpleRNN")
    per_step_ms = result["per_step_ms_per_step"]
    print(f"  per-step predict loop : {stepwise_full:9.3f} s{scaled}, {per_step_ms:.1f} ms/step")
    print(f"  one call (first, best): {one_call_times[0]:9.3f} s, {min(one_call_times):.3f} s")
    print(
        f"  speed-up              : {result['speedup_vs_first']:9.0f}x (first call), "
        f"{result['speedup_vs_best']:.0f}x (best)"
    )
    print(f"  max |difference|      : {max_diff:.2e}  -> {args.output}")


if __name__ == "__main__":
    main()
