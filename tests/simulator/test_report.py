"""The figures and the self-contained HTML report."""

from __future__ import annotations

import pytest

from simulator.fast import study
from simulator.metrics import gini
from simulator.policy import POLICIES
from simulator.report import render
from simulator.scenario import load


def test_gini_bounds() -> None:
    """Equal loads give 0; one helper doing everything approaches 1."""
    assert gini([3, 3, 3]) == 0.0
    assert gini([0, 0, 0, 9]) == pytest.approx(0.75)
    assert gini([]) == 0.0


def test_html_report_is_self_contained_with_every_plot() -> None:
    """One HTML file with inline SVG plots and no external resource."""
    result = study(load("small"), days=0.25, policies=[POLICIES["nearest"]])
    page = render(result)
    assert page.count("<svg") >= 7  # 2 arrival, 2 by-hour, 2 heat maps, 1 utilisation
    assert "15 min" in page and "30 min" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
