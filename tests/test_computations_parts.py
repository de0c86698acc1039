"""forecastlab.computations_parts: a part's four subsections for its model."""

from __future__ import annotations

from forecastlab.computations_parts import part_report
from tests.computations_layout import ATOL


def test_part_without_a_model_says_so():
    report = part_report("D", None, ATOL)
    assert len(report.intro) == 1 and "No model" in report.intro[0]
    assert report.passed is None and not report.computations
