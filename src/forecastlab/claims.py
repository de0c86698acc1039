"""The tutorials' claims about which model forecasts better, each tested.

A claim names its source (the tutorial, in ../shared/seeds/), the series it was made on
(a source kind of params.yaml: "textbook" is the textbook's generated panel, whatever the
study's name; None: every study that trains its models), the kind of forecast, and the
models: the one claimed better and the one(s) claimed worse. It is evaluated from the pairwise table
(`forecastlab.comparison.pairwise_rows`), never by a test of its own: it *holds* when
the claimed-better model is significantly better (Holm-adjusted Diebold-Mariano p-value
below the level) than every model it is claimed to beat, *does not hold* when it is
significantly worse than any of them, and is *no significant difference* otherwise. A
claim whose models the params do not train is *not run*.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from forecastlab.stats import BETTER, WORSE

HOLDS, DOES_NOT_HOLD, NO_DIFFERENCE, NOT_RUN = (
    "holds",
    "does not hold",
    "no significant difference",
    "not run",
)
NEXT, TEN_AHEAD = "next value", "next 10 values"
# "Every other model of the group" as the models a claim's better model beats.
EVERY_OTHER = ("*",)


@dataclass(frozen=True)
class Claim:
    """better beats each of worse (EVERY_OTHER: every other candidate of its group) on
    the forecasts of `kind` in the studies whose source is of kind `series` (None: every
    study with the models)."""

    name: str
    statement: str
    source: str
    series: str | None
    kind: str
    better: str
    worse: tuple[str, ...]


TEXTBOOK = "002, notes on the textbook's RNN chapter (Géron, Hands-On Machine Learning, ch. 15)"
CLAIMS: tuple[Claim, ...] = (
    Claim(
        "linear_beats_simple_rnn",
        "A linear model (Flatten + Dense) forecasts the next value better than a single "
        "SimpleRNN(1)",
        f"{TEXTBOOK}: 'Baseline Metrics' then 'Simple RNN' (the book's figures; the notes "
        "give the models)",
        "textbook",
        NEXT,
        "linear",
        ("rnn1",),
    ),
    Claim(
        "deep_rnn_beats_linear",
        "A deep RNN (SimpleRNN 20, 20, 1) beats the linear model on the next value",
        f"{TEXTBOOK}: 'Deep RNN'",
        "textbook",
        NEXT,
        "deep_rnn",
        ("linear",),
    ),
    Claim(
        "deep_rnn_dense_beats_linear",
        "A deep RNN with a Dense output (SimpleRNN 20, 20 + Dense) beats the linear model "
        "on the next value",
        f"{TEXTBOOK}: 'Deep RNN' ('We can replace it with a Dense layer')",
        "textbook",
        NEXT,
        "deep_rnn_dense",
        ("linear",),
    ),
    Claim(
        "direct_beats_iterative",
        "Forecasting the next 10 values at once (seq-to-vector) beats iterating the deep "
        "RNN on its own forecasts",
        f"{TEXTBOOK}: 'Forecasting Several Time Steps Ahead' ('the errs might accumulate'; "
        "'We can also train RNN to predict all 10 next val at once')",
        "textbook",
        TEN_AHEAD,
        "seq2vec",
        ("deep_rnn",),
    ),
    Claim(
        "seq2seq_beats_seq2vec",
        "Training to forecast the next 10 values at every time step (seq-to-seq) beats "
        "forecasting them at the last step only (seq-to-vector)",
        f"{TEXTBOOK}: 'forecast the next 10 values at each time step. This will "
        "stabilize and speed up training'",
        "textbook",
        TEN_AHEAD,
        "seq2seq",
        ("seq2vec",),
    ),
    Claim(
        "layer_norm_beats_batch_norm",
        "The LayerNorm SimpleRNN cell beats BatchNormalization between recurrent layers, "
        "10 steps ahead",
        f"{TEXTBOOK}: 'Long Seq' ('Layer Normalization works better')",
        "textbook",
        TEN_AHEAD,
        "ln_rnn",
        ("bn_rnn",),
    ),
    Claim(
        "lstm_beats_simple_rnn_10",
        "LSTM beats SimpleRNN (both 20, 20, seq-to-seq) 10 steps ahead",
        f"{TEXTBOOK}: 'Tackle Short Term Mem', 'LSTM'",
        "textbook",
        TEN_AHEAD,
        "lstm",
        ("seq2seq",),
    ),
    Claim(
        "gru_beats_simple_rnn_10",
        "GRU beats SimpleRNN (both 20, 20, seq-to-seq) 10 steps ahead",
        f"{TEXTBOOK}: 'Tackle Short Term Mem', 'GRU'",
        "textbook",
        TEN_AHEAD,
        "gru",
        ("seq2seq",),
    ),
    Claim(
        "wavenet_best",
        "WaveNet is the best model on the textbook series, 10 steps ahead",
        f"{TEXTBOOK}: 'WaveNet' (the chapter's last and best model in the book)",
        "textbook",
        TEN_AHEAD,
        "wavenet",
        EVERY_OTHER,
    ),
    Claim(
        "lstm_beats_simple_rnn",
        "LSTM improves on the simple RNN (next value), on every series that trains both",
        "003, the random-walk tutorial: 'Improvement LSTM' ('improved the RNN with an "
        "architecture called Long Short-Term Memory')",
        None,
        NEXT,
        "lstm",
        ("rnn1",),
    ),
)


def _pair(rows: Mapping[tuple, Mapping[str, Any]], key: tuple, better: str, other: str):
    """The pairwise row of better against other in the group `key`, and the verdict of
    better against other (the row may list them either way round)."""
    row = rows.get((*key, better, other))
    if row is not None:
        return row, row["a is"]
    row = rows.get((*key, other, better))
    if row is None:
        return None, None
    flipped = {WORSE: BETTER, BETTER: WORSE}
    return row, flipped.get(row["a is"], row["a is"])


def claim_rows(
    pairwise: Iterable[Mapping[str, Any]], series: Mapping[str, str]
) -> list[dict[str, Any]]:
    """One row per claim of CLAIMS and window it was tested at (one row "not run" when
    its models were not trained): claim, source, study, window, models compared, verdict
    and the p-value that decides it (Holm-adjusted: the largest of the pairs when the
    claim holds or shows no significant difference, the smallest against it when it does
    not hold), from the pairwise table (as written or read back from CSV); `series`:
    each study's source kind (params.yaml's studies.<study>.source.kind)."""
    table = list(pairwise)
    rows_by_pair = {
        (r["study"], int(r["window"]), r["forecast"], r["model a"], r["model b"]): r for r in table
    }
    found = []
    for claim in CLAIMS:
        groups = sorted(
            {
                (r["study"], int(r["window"]), r["forecast"])
                for r in table
                if (claim.series is None or series.get(r["study"]) == claim.series)
                and r["forecast"] == claim.kind
                and claim.better in (r["model a"], r["model b"])
            }
        )
        tested = []
        for key in groups:
            models = {
                name
                for r in table
                if (r["study"], int(r["window"]), r["forecast"]) == key
                for name in (r["model a"], r["model b"])
            }
            others = sorted(models - {claim.better}) if claim.worse == EVERY_OTHER else claim.worse
            if not others or not set(others) <= models:
                continue
            pairs = [_pair(rows_by_pair, key, claim.better, other) for other in others]
            tested.append((key, others, pairs))
        if not tested:
            where = "any study" if claim.series is None else f"the {claim.series} series"
            found.append(_row(claim, where, None, _compared(claim, claim.worse), NOT_RUN, math.nan))
        for (study, window, _), others, pairs in tested:
            shown, p_value = _evaluated(pairs)
            found.append(_row(claim, study, window, _compared(claim, others), shown, p_value))
    return found


def _evaluated(pairs: list[tuple[Mapping[str, Any], str]]) -> tuple[str, float]:
    p_values = [float(row["p (Holm)"]) for row, _ in pairs]
    against = [p for p, (_, found) in zip(p_values, pairs, strict=True) if found == WORSE]
    if against:
        return DOES_NOT_HOLD, min(against)
    if all(found == BETTER for _, found in pairs):
        return HOLDS, max(p_values)
    return NO_DIFFERENCE, max(p_values)


def _compared(claim: Claim, others: Iterable[str]) -> str:
    shown = "every other model" if claim.worse == EVERY_OTHER else ", ".join(others)
    return f"{claim.better} vs {shown} ({claim.kind})"


def _row(
    claim: Claim, study: str, window: int | None, compared: str, shown: str, p: float
) -> dict[str, Any]:
    return {
        "claim": claim.statement,
        "source": claim.source,
        "study": study,
        "window": window,
        "models compared": compared,
        "verdict": shown,
        "p (Holm)": p,
        "name": claim.name,
    }


def claims_tree(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """claim_rows as metrics.json holds them: {name: {study: {"wL": {"is": verdict, "p":
    p-value or None}}}}, or {name: {"is": "not run"}}."""
    tree: dict[str, dict[str, Any]] = {}
    for row in rows:
        p = float(row["p (Holm)"])
        found = {"is": row["verdict"], "p": None if math.isnan(p) else float(f"{p:.6g}")}
        if row["verdict"] == NOT_RUN:
            tree[row["name"]] = {"is": NOT_RUN}
        else:
            study = tree.setdefault(row["name"], {}).setdefault(row["study"], {})
            study[f"w{row['window']}"] = found
    return tree
