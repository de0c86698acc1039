"""forecastlab.computations: the report's display, and the whole report rendered on tiny
seeded models (real Keras, real papermill)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecastlab import computations as fc
from tests.computations_layout import ATOL, KERAS_WARNINGS, STUDIES

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings(KERAS_WARNINGS)
TEMPLATE = REPO / "workflow" / "notebooks" / "computations_report.ipynb"


def test_verdict():
    assert "passed" in fc.verdict(1e-7, ATOL) and "FAILED" in fc.verdict(1e-3, ATOL)


class Tables(HTMLParser):
    """Every <table>'s header and body cells, as text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.tables[-1][-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def comparisons(page: str) -> list[pd.DataFrame]:
    parser = Tables()
    parser.feed(page)
    found = []
    for rows in parser.tables:
        header = rows[0]
        if fc.HAND in header:
            found.append(pd.DataFrame(rows[1:], columns=header))
    return found


@pytest.mark.slow
def test_report_renders(computations_layout, monkeypatch):
    from forecastlab.reporting import render_report

    root, _ = computations_layout
    monkeypatch.chdir(root)
    render_report(
        TEMPLATE,
        root / "reports" / "computations.ipynb",
        root / "reports" / "computations.html",
        {"studies": STUDIES, "atol": ATOL},
    )
    page = (root / "reports" / "computations.html").read_text()
    # what a reader sees: the exporter's own scripts and styles (a MathJax loader) dropped
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", " ", body))
    for part, title in fc.PART_TITLES.items():
        section = text.split(f"Part {part}: {title}")[-1]
        for heading in fc.HEADINGS:
            assert heading in section, (part, heading)
    for model in ("walk/w5/td_dense", "sine/w2/rnn1", "book/w5/seq2seq", "book/w5/lstm"):
        assert model in text
    assert "BasicRNNCell" in text and "stateful" in text and "X_batch" in text
    assert "passed" in text and "FAILED" not in text
    assert "Warning" not in text and "Traceback" not in text and str(root) not in page
    assert "$" not in text and "\\(" not in text  # equations in HTML, not LaTeX
    tables = comparisons(page)
    assert len(tables) >= 5 + 3
    for table in tables:
        assert list(table.columns[-3:]) == list(fc.COMPARISON_COLUMNS)
        hand = table[fc.HAND].astype(float).to_numpy()
        keras_values = table[fc.KERAS].astype(float).to_numpy()
        np.testing.assert_allclose(hand, keras_values, rtol=0, atol=ATOL)
