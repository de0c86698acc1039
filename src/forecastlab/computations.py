"""The computations report: the fifth tutorial's "understanding computations", carried out
on the pipeline's models. This module holds its outline and how it displays things.

For each part of the tutorial (A: TimeDistributed Dense, B: SimpleRNN, C: SimpleRNN with
two hidden layers, D: LSTM, E: GRU) a trained model is chosen by its plan
(`forecastlab.computations_runs`), its files are read and laid out as tables
(`forecastlab.computations_case`), its first steps are computed by hand beside Keras's
values (`forecastlab.computations_steps`) and gathered into the part's four subsections
(`forecastlab.computations_parts`). Two demos rebuild the second and fourth tutorials'
small examples with seeded weights (`forecastlab.computations_demos`).

Keras is imported inside the functions that need it, after `quiet_tensorflow`, so that
importing these modules (which import `forecastlab` first, pinning the numerics) starts
no TensorFlow and prints nothing. Every comparison table has the columns `by hand`,
`Keras` and `|difference|` (COMPARISON_COLUMNS).
"""

from __future__ import annotations

import html
import logging
import os
import warnings
from typing import Any

import pandas as pd

HAND, KERAS, DIFFERENCE = "by hand", "Keras", "|difference|"
COMPARISON_COLUMNS = (HAND, KERAS, DIFFERENCE)
HEADINGS = (
    "Inputs and outputs for this section",
    "Model definition and training",
    "Understanding the weights",
    "Understanding the computations",
)
PART_TITLES = {
    "A": "Explanation of the TimeDistributed component",
    "B": "Explanation of simple RNN",
    "C": "Explanation of simple RNN with two hidden layers",
    "D": "Explanation of LSTM",
    "E": "Explanation of GRU",
}


class Html(str):
    """A piece of HTML that Jupyter displays as such (text/html)."""

    def _repr_html_(self) -> str:
        return str(self)


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ and absl logs and Keras's Python warnings out of a report:
    call before Keras is first imported (the C++ log level is read then)."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="keras")
    warnings.filterwarnings("ignore", module="tensorflow")


def quiet_keras() -> Any:
    """The keras module, imported after quiet_tensorflow."""
    quiet_tensorflow()
    import keras

    return keras


def shape_text(shape: Any) -> str:
    """A Keras or numpy shape as text, the batch axis None: (None, 5, 2)."""
    return str(tuple(None if s is None else int(s) for s in shape))


def styled(table: pd.DataFrame, digits: int = 8) -> Any:
    """A table for display: floats to `digits` significant digits, differences in
    scientific notation, a missing value as a dash, no index."""
    formats = {
        column: ("{:.2e}" if "difference" in column else f"{{:.{digits}g}}")
        for column in table.columns
        if pd.api.types.is_float_dtype(table[column])
    }
    return table.style.format(formats, na_rep="—").hide(axis="index")


def text(paragraph: str) -> Html:
    """A paragraph of text (escaped), for display."""
    return Html(f"<p>{html.escape(paragraph)}</p>")


def heading(title: str, level: int = 4) -> Html:
    return Html(f"<h{level}>{html.escape(title)}</h{level}>")


def verdict(
    max_difference: float,
    atol: float,
    n_compared: int | None = None,
    rtol: float = 0.0,
    max_excess: float | None = None,
) -> Html:
    """One sentence: the largest difference against the tolerance atol + rtol * |Keras|
    (max_excess: the largest |difference| - rtol * |Keras|; max_difference without
    rtol), passed or failed."""
    passed = (max_difference if max_excess is None else max_excess) <= atol
    over = f" over {n_compared} values" if n_compared is not None else ""
    bound = f"atol {atol:.1e}" + (f" + rtol {rtol:.1e} &times; |Keras|" if rtol else "")
    return Html(
        f"<p><b>Largest |difference|{over}: {max_difference:.3e} against {bound}: "
        f"{'passed' if passed else 'FAILED'}.</b></p>"
    )
