"""Benchmark: the numpy forward pass of hand-verification against Keras `predict`.

Both compute the same predictions of the 5-weight model on the default sine study's whole
test part (1251 points), side by side in this process: stateless (every window of each
length) and stateful (one pass over the series). Keras's time is that of a warm `predict`
(its first call, which traces the graph, is reported apart). Usage:

    python bench/handcheck_speed.py [--repeats 5] [--output bench/results/handcheck_speed.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import forecastlab  # noqa: F401  (pins the numerics before TensorFlow loads)


def best_of(repeats: int, work, *args, **kwargs) -> tuple[float, object]:
    """Fastest of `repeats` calls of work(*args, **kwargs), and its result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = work(*args, **kwargs)
        times.append(time.perf_counter() - started)
    return min(times), result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", default="bench/results/handcheck_speed.json")
    args = parser.parse_args(argv)

    import keras

    from forecastlab.data import chronological_split, sine_wave, split_sizes
    from forecastlab.handcheck import rnn1_forward
    from forecastlab.models import build_model, export_weights
    from forecastlab.windows import sliding_windows

    hp = {"units": 1, "activation": "tanh"}
    series = sine_wave(10, 500, 0.0, seed=42)
    test = chronological_split(series, split_sizes(len(series), 0.25))["test"]
    rows = []
    for length in (2, 10, 50, None):
        keras.utils.set_random_seed(0)
        model = build_model("rnn1", hp, length, return_sequences=length is None)
        weights = export_weights(model)
        inputs = test.reshape(1, -1, 1) if length is None else sliding_windows(test, length)[0]
        started = time.perf_counter()
        model.predict(inputs, verbose=0, batch_size=4096)
        first_call = time.perf_counter() - started
        keras_seconds, keras_out = best_of(
            args.repeats, model.predict, inputs, verbose=0, batch_size=4096
        )
        numpy_seconds, (hand_out, _) = best_of(args.repeats, rnn1_forward, weights, inputs)
        hand_last = hand_out if length is None else hand_out[:, -1]
        rows.append(
            {
                "mode": "stateful" if length is None else f"stateless w{length}",
                "values": int(hand_last.size),
                "keras_predict_seconds": keras_seconds,
                "keras_first_call_seconds": first_call,
                "numpy_seconds": numpy_seconds,
                "keras_over_numpy": keras_seconds / numpy_seconds,
                "max_abs_difference": float(
                    np.abs(hand_last.reshape(-1) - keras_out.reshape(-1)).max()
                ),
            }
        )
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(rows, indent=2) + "\n")
    header = ("mode", "values", "Keras s", "numpy s", "Keras/numpy", "max diff")
    print("{:<16}{:>8}{:>10}{:>10}{:>13}{:>10}".format(*header))
    for r in rows:
        print(
            f"{r['mode']:<16}{r['values']:>8}{r['keras_predict_seconds']:>10.4f}{r['numpy_seconds']:>10.4f}"
            f"{r['keras_over_numpy']:>13.1f}{r['max_abs_difference']:>10.1e}"
        )
    print(f"-> {args.output}")


if __name__ == "__main__":
    main()
