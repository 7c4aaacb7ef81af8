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
