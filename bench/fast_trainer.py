"""Benchmark: the compiled multi-epoch trainer against Keras's `model.fit`.

Both train the 5-weight model on the sine tutorial's configuration (3748 windows of 2,
batch 600, 1000 epochs, rmsprop, validation_split 0.05 checked every epoch) from the same
initial weights, side by side in this process. Usage:

    python bench/fast_trainer.py [--epochs 1000] [--output bench/results/fast_trainer.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--output", default="bench/results/fast_trainer.json")
    args = parser.parse_args(argv)

    from forecastlab.data import chronological_split, sine_wave, split_sizes
    from forecastlab.models import build_model, compile_model
    from forecastlab.numerics import configure
    from forecastlab.training import fit, fit_compiled
    from forecastlab.windows import sliding_windows

    configure(42)
    series = sine_wave(10, 500, 0.0, seed=42)
    train = chronological_split(series, split_sizes(len(series), 0.25))["train"]
    inputs, targets = sliding_windows(train, 2)
    hp = {
        "units": 1,
        "activation": "tanh",
        "optimizer": "rmsprop",
        "learning_rate": 0.001,
        "batch_size": 600,
        "epochs": args.epochs,
        "validation_split": 0.05,
    }
    results = {}
    initial = None
    for name, trainer in (("fit", fit), ("fast", fit_compiled)):
        model = compile_model(build_model("rnn1", hp, 2), hp)
        if initial is None:
            initial = model.get_weights()
        model.set_weights(initial)
        started = time.perf_counter()
        history = trainer(
            model, inputs, targets, hp, f"bench/{name}", log_every=max(1, args.epochs // 4)
        )
        results[name] = {
            "seconds": time.perf_counter() - started,
            "final_val_loss": history["val_loss"][-1],
        }
    results["speedup"] = results["fit"]["seconds"] / results["fast"]["seconds"]
    results["windows"], results["epochs"] = len(inputs), args.epochs
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print(f"sine configuration: {len(inputs)} windows, batch 600, {args.epochs} epochs")
    for name in ("fit", "fast"):
        r = results[name]
        print(f"  {name:<5} {r['seconds']:8.1f} s   final val_loss {r['final_val_loss']:.6f}")
    print(f"  speed-up {results['speedup']:.1f}x -> {args.output}")


if __name__ == "__main__":
    main()
