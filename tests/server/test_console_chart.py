"""The overview's refresh chart: hourly counts in, SVG bars out (pure geometry)."""

from __future__ import annotations

import pytest

from outbound.server.console.chart import HEIGHT, HOURS, bars


def test_the_busiest_hour_fills_the_height_and_failures_sit_on_top() -> None:
    ok = [0] * HOURS
    failed = [0] * HOURS
    ok[HOURS - 1], failed[HOURS - 1] = 30, 10  # this hour: the peak
    ok[0] = 20  # 23 hours ago

    chart = bars(ok, failed)

    now, oldest = chart.bars[-1], chart.bars[0]
    assert chart.peak == 40 and chart.ok_total == 50 and chart.failed_total == 10
    assert now.ok_height + now.failed_height == HEIGHT
    assert now.failed_y == 0  # the stack reaches the top
    assert now.ok_y == HEIGHT - now.ok_height  # successes stand on the axis
    assert oldest.ok_height == HEIGHT / 2
    assert now.label == "this hour: 30 succeeded, 10 failed"
    assert oldest.label == "23 h ago: 20 succeeded, 0 failed"
    assert [bar.x for bar in chart.bars] == sorted(bar.x for bar in chart.bars)


def test_no_refreshes_draw_no_bars() -> None:
    chart = bars([0] * HOURS, [0] * HOURS)
    assert chart.peak == 0
    assert all(bar.ok_height == 0 == bar.failed_height for bar in chart.bars)


def test_a_wrong_number_of_hours_is_refused() -> None:
    with pytest.raises(ValueError, match="24 hourly counts"):
        bars([1] * 23, [0] * 23)


def test_the_overview_draws_the_chart_without_inline_style() -> None:
    """The page's CSP allows no inline style: the bars are classed rects with a title each."""
    from outbound.server.console.render import _env

    ok = [0] * (HOURS - 1) + [5]
    failed = [1] + [0] * (HOURS - 1)
    html = _env.get_template("overview.html").render(
        csrf="c",
        project_id="P",
        apps=[],
        counts={"active": 1, "refresh_failing": 0, "reconnect_required": 0},
        failed=0,
        chart=bars(ok, failed),
        nav="overview",
    )
    assert 'id="refresh-chart"' in html and 'role="img"' in html
    assert html.count("<rect") == 2
    assert "style=" not in html
    assert "5 refreshes succeeded and 1 failed in the last 24 hours" in html
    assert "23 h ago: 0 succeeded, 1 failed" in html
