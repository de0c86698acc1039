"""The four subsections of each part A-E of the computations report for its chosen model,
and the table of every part's largest difference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecastlab.computations import heading, styled, text, verdict
from forecastlab.computations_case import (
    inputs_outputs,
    load_case,
    model_layers,
    training_settings,
    weight_values,
    weights_table,
    window_values,
)
from forecastlab.computations_steps import compute_steps, equations


@dataclass
class PartReport:
    """What each of a part's four subsections shows (displayable objects, in order);
    intro says which model the part uses, or in one sentence that none fits."""

    part: str
    intro: list[Any]
    inputs: list[Any] = field(default_factory=list)
    definition: list[Any] = field(default_factory=list)
    weights: list[Any] = field(default_factory=list)
    computations: list[Any] = field(default_factory=list)
    max_difference: float | None = None
    passed: bool | None = None


def part_report(
    part: str,
    run: Mapping[str, Any] | None,
    atol: float,
    rtol: float = 0.0,
    steps: int = 3,
    units: int = 4,
) -> PartReport:
    """The four subsections of one part (A-E) for its chosen run (choose_runs), or only
    an intro sentence when the params have no model for it. A value passes within
    atol + rtol * |Keras| (params.yaml's verification)."""
    if run is None:
        return PartReport(
            part, [text(f"No model in these params has a plan that part {part} explains.")]
        )
    case = load_case(part, run)
    hp = case.run["hyperparams"]
    intro = [
        text(
            f"This part uses the trained model {case.name} (study {case.run['study']}, "
            f"windows of {case.run['window']} steps, architecture {case.run['arch']}), "
            f"with the weights it was trained to; its target is {hp.get('target', 'next')}."
        )
    ]
    computation = compute_steps(case, steps, units, rtol)
    passed = computation.max_excess <= atol
    shown = min(steps, case.window.shape[1])
    inputs = [
        styled(inputs_outputs(case)),
        text(f"The first {shown} inputs x_t of the first test window:"),
        styled(window_values(case, steps).reset_index()),
    ]
    keep = (
        ""
        if case.model.output_shape[1:-1]
        else (
            " The saved model keeps only the last step; the per-step twin below (the same "
            "weights, build_model(..., return_sequences=True)) gives every step."
        )
    )
    definition = [
        styled(model_layers(case)),
        *([text(keep.strip())] if keep else []),
        text("Training:"),
        styled(training_settings(case)),
    ]
    weights = [styled(weights_table(case))]
    for key in case.weights:
        weights += [heading(f"{key}, first rows and columns"), styled(weight_values(case, key))]
    computations = [equations(case)]
    for title, table in computation.details:
        computations += [heading(title), styled(table)]
    computations += [
        heading(f"By hand against Keras, first {shown} steps (first {units} units shown)"),
        styled(computation.comparison),
        verdict(
            computation.max_difference, atol, computation.n_compared, rtol, computation.max_excess
        ),
    ]
    return PartReport(
        part,
        intro,
        inputs,
        definition,
        weights,
        computations,
        computation.max_difference,
        passed,
    )


def summary_table(reports: Sequence[PartReport], atol: float, rtol: float = 0.0) -> pd.DataFrame:
    """Per part: the largest |difference| and passed/failed against atol + rtol * |Keras|."""
    return pd.DataFrame(
        [
            {
                "part": r.part,
                "largest |difference|": np.nan if r.max_difference is None else r.max_difference,
                "atol": atol,
                "rtol": rtol,
                "result": "no model" if r.passed is None else ("passed" if r.passed else "FAILED"),
            }
            for r in reports
        ]
    )
