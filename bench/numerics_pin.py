"""Benchmark: what each numerics setting changes in a trained model, and what the pin costs.

Each (setting, model) pair trains in a fresh process, since TensorFlow and oneDNN read
their settings once, at load. The models are default-params ones, built from params.yaml
through the library as the pipeline builds them. Settings:

- pinned: forecastlab's pin (forecastlab.numerics), as every pipeline job runs;
- TF defaults: TensorFlow as shipped: oneDNN's graph rewrites on, no instruction-set cap
  (oneDNN's or XLA's), Eigen's caches as CPUID reports them, approximate reciprocals;
- caches unpinned: the pin without fixing Eigen's cache sizes;
- reciprocals unpinned: the pin with Keras's RMSprop and TensorFlow's Rsqrt as shipped;
- rewrites on: the pin with TF_ENABLE_ONEDNN_OPTS=1;
- AVX-512 allowed: the pin without oneDNN's ISA cap (what this machine would pick);
- XLA uncapped: the pin without XLA's flags (its code for this machine's instruction set);
- SSE4.1 only: the pin capped lower, as a machine without AVX2 would compute;
- 2 threads: the pin with thread pools of 2.

A setting that gives the pinned weights bit for bit changes nothing; one that does not is
a source of machine-dependent numbers that the pin removes. Usage:

    python bench/numerics_pin.py [--models random_walk/w20/relu_rnn sine/w10/lstm ...]
        [--epochs N] [--settings pinned "TF defaults" ...]
        [--output bench/results/numerics_pin.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETTINGS: dict[str, dict[str, str | None]] = {
    "pinned": {},
    "TF defaults": {
        "ONEDNN_MAX_CPU_ISA": None,
        "TF_ENABLE_ONEDNN_OPTS": None,
        "XLA_FLAGS": None,
        "caches": "unpinned",
        "reciprocals": "unpinned",
    },
    "caches unpinned": {"caches": "unpinned"},
    "reciprocals unpinned": {"reciprocals": "unpinned"},
    "rewrites on": {"TF_ENABLE_ONEDNN_OPTS": "1"},
    "AVX-512 allowed": {"ONEDNN_MAX_CPU_ISA": None},
    "XLA uncapped": {"XLA_FLAGS": None},
    "SSE4.1 only": {"ONEDNN_MAX_CPU_ISA": "SSE41"},
    "2 threads": {"threads": "2"},
}


def study_windows(study: dict, length: int) -> dict:
    """A study's windows of `length`, made as the acquire, split and window jobs make them."""
    from forecastlab.data import (
        chronological_split,
        fit_scaler,
        load_series,
        scale,
        split_sizes,
        textbook_series,
    )
    from forecastlab.windows import cut_windows

    source, seed = study["source"], study["seed"]
    if source["kind"] == "textbook":
        series = textbook_series(source["n_series"], source["n_steps"], seed)
    else:
        series = load_series(source, seed)[1]
    parts = chronological_split(series, split_sizes(len(series), **study["split"]))
    offset, scale_ = fit_scaler(study["scaler"], parts["train"])
    windows = {"train_series": scale(parts["train"], offset, scale_)}
    spec = study["windows"]
    for part, values in parts.items():
        if len(values):
            inputs, targets, _ = cut_windows(
                scale(values, offset, scale_), length, spec["cut"], spec["targets"], spec["horizon"]
            )
            windows[f"{part}_inputs"] = inputs
            windows |= {f"{part}_targets_{kind}": v for kind, v in targets.items()}
    return windows


def child(setting: str, name: str, epochs: int | None) -> dict:
    """Train model `name` ("study/wL/arch") under `setting`; this process only."""
    import forecastlab  # noqa: F401  (pins the environment)
    from forecastlab import numerics
    from forecastlab.config import load_yaml, validate_params
    from forecastlab.layout import parse_run_name

    overrides = dict(SETTINGS[setting])
    numerics.THREADS = int(overrides.pop("threads", numerics.THREADS))
    # Deliberately unpinned, before TensorFlow is imported (which applies these pins).
    if overrides.pop("caches", None):
        numerics.pin_eigen_caches = lambda: {}
    if overrides.pop("reciprocals", None):
        numerics.pin_rsqrt = numerics.pin_rmsprop = lambda: None
    for key, value in overrides.items():  # deliberately unpinned: what is being measured
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value

    numerics.pin_environment = lambda: None  # keep the settings above for configure()
    from forecastlab.models import export_weights
    from forecastlab.training import SeedGroup

    params = validate_params(
        load_yaml(REPO / "params.yaml"), load_yaml(REPO / "workflow/schemas/params.schema.yaml")
    )
    model = parse_run_name(name)
    study, length, arch = params["studies"][model["study"]], model["length"], model["arch"]
    hp = dict(study["models"][arch], **({"epochs": epochs} if epochs else {}))
    windows = study_windows(study, length)
    numerics.configure(study["seed"])
    started = time.perf_counter()
    group = SeedGroup(arch, hp, length, windows, windows["train_series"])
    history = group.train(study["seed"], name)
    seconds = time.perf_counter() - started
    model = group.model
    digest = hashlib.sha256()
    for key, value in sorted(export_weights(model).items()):
        digest.update(key.encode() + value.tobytes())
    return {"seconds": seconds, "loss": history["loss"][-1], "weights": digest.hexdigest()[:16]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=[
            "random_walk/w20/relu_rnn",
            "sine/w10/lstm",
            "sine/w10/rnn3",
            "synthetic/w50/gru",
            "synthetic/w50/ln_rnn",
            "synthetic/w50/bn_rnn",
            "synthetic/w50/wavenet",
        ],
    )
    parser.add_argument("--epochs", type=int, help="train this many epochs instead of params'")
    parser.add_argument(
        "--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS), help="pinned first"
    )
    parser.add_argument("--output", default="bench/results/numerics_pin.json")
    parser.add_argument("--child", nargs=2, metavar=("SETTING", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child, args.epochs)))
        return

    results: dict[str, dict] = {}
    for name in args.models:
        for setting in dict.fromkeys(["pinned", *args.settings]):
            command = [sys.executable, __file__, "--child", setting, name]
            command += ["--epochs", str(args.epochs)] if args.epochs else []
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            results.setdefault(name, {})[setting] = result
            pinned = results[name]["pinned"]
            result["same_weights_as_pinned"] = result["weights"] == pinned["weights"]
            result["time_vs_pinned"] = result["seconds"] / pinned["seconds"]
            print(
                f"{name:<28} {setting:<16} {result['seconds']:7.2f} s "
                f"({result['time_vs_pinned']:.2f}x)  loss {result['loss']:.8g}  "
                f"weights {result['weights']}"
                f"{'  = pinned' if result['same_weights_as_pinned'] else ''}",
                flush=True,
            )
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print(f"-> {args.output}")


if __name__ == "__main__":
    main()
