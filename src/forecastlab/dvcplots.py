"""What `dvc plots show` and `dvc plots diff` draw: a few plots that answer questions,
rendered offline.

The summarize job writes one long-format CSV per study and question under results/plots/
(`curves/`: each trained model's loss curves; `forecasts/`: truth and each model's
forecasts on the test series), and dvc.yaml draws each with a template of
`.dvc/plots/` that puts one panel per model. DVC's own page loads Vega from a CDN, blank
on a machine without network; `.dvc/config` points it at OFFLINE_TEMPLATE, whose
Vega, Vega-Lite and Vega-Embed come inline from vl-convert-python, pinned in the lock
(`python -m forecastlab.dvcplots` writes it; a test checks it is up to date).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from forecastlab.modes import DRAWN
from forecastlab.summary import prediction_rows

OFFLINE_TEMPLATE = Path(".dvc/plots/offline.html")
# DVC's vega templates declare Vega-Lite 5: the newest 5.x that vl-convert bundles.
VEGA_LITE = "5.21"
# The arrays evaluation saves for a model of a one-series study, which forecast_rows reads.
ONE_SERIES_ARRAYS = {"test_series", "target_positions"}
# The most points a loss curve is drawn with.
CURVE_POINTS = 100
# A forecast plot shows the test series' first steps: long enough to see the season.
# DVC repeats the revision and file name in every point of the page, so it is kept small.
FORECAST_STEPS = 100


def _shown(value: float) -> float:
    """A drawn value to six significant digits, as much as a plot resolves."""
    return float(f"{value:.6g}")


def curve_rows(model: str, history: Mapping[str, list[float]]) -> list[dict]:
    """A model's training history ({"loss": [...], "val_loss": [...]}, either may be
    absent) as long rows: model, epoch (from 1), curve (the history's key), value (six
    significant digits); at most CURVE_POINTS epochs of each curve, evenly spread, the
    first and last among them (the page holds every value it draws: 1000-epoch curves
    made it 14 MB)."""
    rows = []
    for curve, values in history.items():
        drawn = np.unique(np.linspace(0, len(values) - 1, min(len(values), CURVE_POINTS)).round())
        rows += [
            {"model": model, "epoch": int(i) + 1, "curve": curve, "value": _shown(values[int(i)])}
            for i in drawn
        ]
    return rows


def forecast_rows(model: str, arrays: Mapping[str, np.ndarray]) -> list[dict]:
    """Truth and the model's drawn one-step forecasts (forecastlab.modes.DRAWN: stateless
    and, where it has them, stateful) at the test steps below FORECAST_STEPS
    (summary.prediction_rows, from the arrays evaluation saves for a one-series study), as
    long rows: model, step, line ("truth" or the forecast's name), value (six significant
    digits)."""
    return [
        {"model": model, "step": row["step"], "line": line, "value": _shown(row[line])}
        for row in prediction_rows(arrays, upto=FORECAST_STEPS)
        for line in ("truth", *DRAWN)
        if line in row
    ]


def offline_template() -> str:
    """DVC's HTML page with Vega, Vega-Lite and Vega-Embed inline (no CDN) and DVC's
    `{plot_divs}` placeholder; no `{scripts}` placeholder, so DVC adds no CDN links."""
    import vl_convert

    bundle = vl_convert.javascript_bundle(vl_version=VEGA_LITE)
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        "<title>forecastlab: DVC plots</title>\n"
        f"<!-- Vega {vl_convert.get_vega_version()}, Vega-Lite {VEGA_LITE}, Vega-Embed "
        f"{vl_convert.get_vega_embed_version()}, from vl-convert-python (requirements.lock);"
        " written by `python -m forecastlab.dvcplots` -->\n"
        f"<script>\n{bundle}\n</script>\n"
        "<style>body { font-family: sans-serif; } div { margin-bottom: 24px; }</style>\n"
        "</head>\n<body>\n{plot_divs}\n</body>\n</html>\n"
    )


def main() -> None:
    """Write OFFLINE_TEMPLATE (run from the repository root)."""
    OFFLINE_TEMPLATE.write_text(offline_template(), encoding="utf-8")
    print(f"wrote {OFFLINE_TEMPLATE}", file=sys.stderr)


if __name__ == "__main__":
    main()
