"""The overview's chart of refreshes by outcome over the last 24 hours, drawn on the server
as SVG geometry (the template turns it into ``<rect>`` elements: no script, no inline style).

Pure: counts per hour in, bars out.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HOURS", "Bar", "Chart", "bars"]

HOURS = 24
WIDTH = 480
HEIGHT = 120
_GAP = 2


@dataclass(frozen=True)
class Bar:
    x: int
    width: int
    # the succeeded part sits on the axis, the failed part on top of it
    ok_y: float
    ok_height: float
    failed_y: float
    failed_height: float
    label: str


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    width: int
    height: int
    peak: int
    ok_total: int
    failed_total: int


def bars(ok: list[int], failed: list[int]) -> Chart:
    """Bars for ``HOURS`` hourly counts, oldest first (index ``HOURS - 1`` is the hour now)."""
    if len(ok) != HOURS or len(failed) != HOURS:
        raise ValueError(f"give {HOURS} hourly counts of each outcome")
    peak = max((o + f for o, f in zip(ok, failed, strict=True)), default=0)
    scale = HEIGHT / peak if peak else 0.0
    width = WIDTH // HOURS
    out = []
    for hour, (o, f) in enumerate(zip(ok, failed, strict=True)):
        ok_height = round(o * scale, 1)
        failed_height = round(f * scale, 1)
        ago = HOURS - 1 - hour
        when = "this hour" if ago == 0 else f"{ago} h ago"
        out.append(
            Bar(
                x=hour * width,
                width=width - _GAP,
                ok_y=round(HEIGHT - ok_height, 1),
                ok_height=ok_height,
                failed_y=round(HEIGHT - ok_height - failed_height, 1),
                failed_height=failed_height,
                label=f"{when}: {o} succeeded, {f} failed",
            )
        )
    return Chart(out, WIDTH, HEIGHT, peak, sum(ok), sum(failed))
