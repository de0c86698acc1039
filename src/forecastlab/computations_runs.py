"""Which trained model each part A-E of the computations report explains, chosen by its
plan of layers (`forecastlab.architectures.plan`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from forecastlab.architectures import architecture, plan
from forecastlab.computations import PART_TITLES
from forecastlab.layers import LAYER_KINDS, Layer
from forecastlab.layout import run_name

PART_KINDS = {"A": "time_dense", "B": "simple_rnn", "C": "simple_rnn", "D": "lstm", "E": "gru"}
# The layer kinds a part's model may hold besides its own: those the report can explain
# that carry no state (an output head, dropout). Conv1D, batch or layer normalization
# have no equations in the report (forecastlab.layers), so a model holding one is left out.
HEAD_KINDS = tuple(
    name for name, kind in LAYER_KINDS.items() if not kind.recurrent and kind.equations is not None
)


def part_matches(part: str, layers: Sequence[Layer]) -> bool:
    """Whether a plan is one part A-E explains: A a per-step Dense only; B exactly one
    SimpleRNN layer; C exactly two; D LSTM layers; E GRU layers (so no Conv1D). Besides
    the part's own layers only an output head and dropout may appear (HEAD_KINDS)."""
    kinds = [layer.kind for layer in layers]
    if part == "A":
        return kinds == ["time_dense"]
    own = PART_KINDS[part]
    if any(kind not in (own, *HEAD_KINDS) for kind in kinds):
        return False
    count = kinds.count(own)
    return {"B": count == 1, "C": count == 2}.get(part, count >= 1)


def _rank(part: str, run: Mapping[str, Any], layers: Sequence[Layer]) -> tuple:
    """Smaller is preferred: window-trained over statefully trained; no dropout; for
    LSTM and GRU the deeper stack (it shows how layers feed one another, as part C does);
    then the params order."""
    stateful = architecture(run["arch"]).stateful_training
    dropout = any(LAYER_KINDS[layer.kind].training_only for layer in layers)
    depth = sum(layer.kind == PART_KINDS[part] for layer in layers)
    return (stateful, dropout, -depth if part in ("D", "E") else 0)


def choose_runs(runs: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """Part letter -> the run it explains (as `forecastlab.layout.runs_of` lists them; a
    model's first seed) or None when no trained model has a plan the part explains (see
    part_matches, _rank)."""
    chosen: dict[str, dict[str, Any] | None] = {}
    for part in PART_TITLES:
        fitting = []
        for order, run in enumerate(runs):
            if not architecture(run["arch"]).trained or run["seed"] != run["seeds"][0]:
                continue
            layers = plan(run["arch"], run["hyperparams"], run["window"])
            if part_matches(part, layers):
                fitting.append((_rank(part, run, layers), order, run))
        chosen[part] = dict(min(fitting, key=lambda item: item[:2])[2]) if fitting else None
    return chosen


def choice_table(chosen: Mapping[str, Mapping[str, Any] | None]) -> pd.DataFrame:
    """One row per part: its title and the model it uses (study/wL/arch/seedN) or none."""
    return pd.DataFrame(
        [
            {
                "part": part,
                "title": PART_TITLES[part],
                "model": run_name(run["study"], run["window"], run["arch"], run["seed"])
                if run
                else "none",
                "layers": " + ".join(
                    f"{layer.name} ({layer.kind})"
                    for layer in plan(run["arch"], run["hyperparams"], run["window"])
                )
                if run
                else "",
            }
            for part, run in chosen.items()
        ]
    )
