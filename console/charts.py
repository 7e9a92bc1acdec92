"""Server-rendered SVG charts for the admin dashboard: pure functions, no JS, no CDN."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from config.admin import CHIP_COLOURS, IDENTIFICATION_WORDS
from console.dashboard import DELIVERY_BUCKETS

CHART_WIDTH = 520  # the dashboard's cards are 560-680 px wide at 1440 px
IDENTIFICATION_ORDER = ("native", "resolved", "anonymous", "pending")
IDENTIFICATION_LEGEND = {"resolved": "resolved by Recapture"}
PALETTE = ["#0969da", "#1a7f37", "#9a6700", "#cf222e", "#8250df", "#6e7781", "#bc4c00", "#1b7c83"]


@dataclass(frozen=True, slots=True)
class Segment:
    label: str
    value: float
    colour: str = ""


def _scale(value: float, maximum: float, width: float) -> float:
    if maximum <= 0 or value <= 0:
        return 0.0
    return round(width * value / maximum, 1)


def bar_chart(rows: Sequence[tuple[str, float]], *, width: int = 420, bar_height: int = 18, label_width: int = 140):
    """Horizontal bars, one per (label, value), scaled to the largest value."""
    if not rows:
        return empty_chart(width=width)
    maximum = max(value for _, value in rows)
    plot = width - label_width - 50
    height = len(rows) * (bar_height + 6) + 4
    bars = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="end" font-size="11">{}</text>'
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>'
        '<text x="{}" y="{}" font-size="11">{}</text>',
        (
            (
                label_width - 6,
                4 + i * (bar_height + 6) + bar_height - 5,
                label,
                label_width,
                4 + i * (bar_height + 6),
                _scale(value, maximum, plot),
                bar_height,
                PALETTE[i % len(PALETTE)],
                label,
                _fmt(value),
                label_width + _scale(value, maximum, plot) + 4,
                4 + i * (bar_height + 6) + bar_height - 5,
                _fmt(value),
            )
            for i, (label, value) in enumerate(rows)
        ),
    )
    return _svg(width, height, bars)


LEGEND_ITEM_MIN_WIDTH = 110
LEGEND_CHAR_WIDTH = 6.6  # 11 px sans-serif, generous
LEGEND_ROW_HEIGHT = 16


def legend_layout(texts: Sequence[str], *, width: int) -> tuple[list[tuple[float, int]], int]:
    """(x, row) of each legend item, flowing left to right and wrapping so no item leaves the chart."""
    places: list[tuple[float, int]] = []
    x, row = 0.0, 0
    for text in texts:
        item = max(LEGEND_ITEM_MIN_WIDTH, 14 + LEGEND_CHAR_WIDTH * len(text) + 16)
        if x > 0 and x + item > width:
            x, row = 0.0, row + 1
        places.append((x, row))
        x += item
    return places, row + 1


def stacked_bar(segments: Sequence[Segment], *, width: int = 420, height: int = 22) -> SafeString:
    """One bar split into proportional segments, with a legend underneath (wrapped into rows, all inside)."""
    total = sum(max(s.value, 0) for s in segments)
    if total <= 0:
        return empty_chart(width=width)
    parts, x = [], 0.0
    for i, s in enumerate(segments):
        w = _scale(s.value, total, width)
        colour = s.colour or PALETTE[i % len(PALETTE)]
        parts.append(
            format_html(
                '<rect x="{}" y="0" width="{}" height="{}" fill="{}"><title>{}: {} ({}%)</title></rect>',
                x,
                w,
                height,
                colour,
                s.label,
                _fmt(s.value),
                round(100 * s.value / total),
            )
        )
        x += w
    places, rows = legend_layout([f"{s.label} {_fmt(s.value)}" for s in segments], width=width)
    legend = format_html_join(
        "",
        '<rect x="{}" y="{}" width="10" height="10" fill="{}"></rect>'
        '<text class="rc-legend" x="{}" y="{}" font-size="11">{} {}</text>',
        (
            (
                x,
                height + 8 + row * LEGEND_ROW_HEIGHT,
                s.colour or PALETTE[i % len(PALETTE)],
                x + 14,
                height + 17 + row * LEGEND_ROW_HEIGHT,
                s.label,
                _fmt(s.value),
            )
            for i, (s, (x, row)) in enumerate(zip(segments, places, strict=True))
        ),
    )
    full_height = height + 12 + rows * LEGEND_ROW_HEIGHT
    return _svg(width, full_height, mark_safe("".join(parts)) + legend)  # noqa: S308 - parts are format_html output


def empty_chart(*, width: int = 420) -> SafeString:
    return _svg(width, 24, format_html('<text x="0" y="16" font-size="12" fill="#6e7781">{}</text>', "No data yet"))


def _svg(width: int, height: int, body: SafeString) -> SafeString:
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="rc-chart" width="{}" height="{}" viewBox="0 0 {} {}" '
        'role="img">{}</svg>',
        width,
        height,
        width,
        height,
        body,
    )


def _fmt(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


# --- The merchant dashboard ---------------------------------------------------------


def dashboard_charts(stats: dict) -> dict:
    """Charts for each window of console.dashboard.get_merchant_dashboard (no queries)."""
    out = {}
    for name, s in stats.items():
        identification = [
            Segment(
                IDENTIFICATION_LEGEND.get(value, IDENTIFICATION_WORDS[value][0]),
                s.identification.get(value, 0),
                CHIP_COLOURS[value],
            )
            for value in IDENTIFICATION_ORDER
        ]
        out[name] = {
            "stats": s,
            "types_chart": bar_chart(sorted(s.events_by_type.items(), key=lambda kv: -kv[1]), width=CHART_WIDTH),
            "identification_chart": stacked_bar(identification, width=CHART_WIDTH),
            "deliveries": [
                {
                    "destination": destination,
                    "counts": counts,
                    "chart": stacked_bar([Segment(b, counts.get(b, 0), CHIP_COLOURS[b]) for b in DELIVERY_BUCKETS]),
                }
                for destination, counts in sorted(s.deliveries.items())
            ],
        }
    return out
