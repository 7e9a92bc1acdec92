"""The server-rendered SVG charts: pure functions, escaped labels, proportional sizes."""

from __future__ import annotations

import itertools
import re

from console.charts import Segment, bar_chart, empty_chart, stacked_bar


def _widths(svg: str) -> list[float]:
    return [float(w) for w in re.findall(r'<rect x="[^"]*" y="[^"]*" width="([^"]+)"', svg)]


def test_bar_chart_scales_bars_to_the_largest_value():
    svg = str(bar_chart([("ViewContent", 100), ("AddToCart", 50)], width=420, label_width=140))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert _widths(svg) == [230.0, 115.0]  # plot width 420 - 140 - 50
    assert "ViewContent" in svg and ">100<" in svg and ">50<" in svg


def test_bar_chart_escapes_labels():
    svg = str(bar_chart([("<script>alert(1)</script>", 3)]))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


def test_bar_chart_without_rows_says_no_data():
    assert "No data yet" in str(bar_chart([]))


def test_bar_chart_all_zero_values_draws_empty_bars():
    assert _widths(str(bar_chart([("a", 0), ("b", 0)]))) == [0.0, 0.0]


def test_stacked_bar_segments_are_proportional_and_titled_with_percent():
    svg = str(stacked_bar([Segment("Native", 30), Segment("Resolved", 10)], width=400))
    widths = _widths(svg)
    assert widths[:2] == [300.0, 100.0]
    assert "Native: 30 (75%)" in svg and "Resolved: 10 (25%)" in svg


def test_stacked_bar_uses_given_colours():
    svg = str(stacked_bar([Segment("dead", 1, "#cf222e")]))
    assert 'fill="#cf222e"' in svg


def test_stacked_bar_of_nothing_is_the_empty_chart():
    assert str(stacked_bar([Segment("a", 0)])) == str(empty_chart())


def test_fractional_values_are_formatted_with_two_decimals():
    assert ">2.50<" in str(bar_chart([("x", 2.5)]))


def test_dashboard_charts_render_every_window_with_chip_colours():
    from console.charts import dashboard_charts
    from console.dashboard import WindowStats

    stats = {
        "24h": WindowStats(
            events_by_type={"ViewContent": 3},
            identification={"native": 1, "resolved": 2},
            deliveries={"K (klaviyo)": {"succeeded": 2, "dead": 1}},
        ),
        "7d": WindowStats(),
    }
    charts = dashboard_charts(stats)
    assert set(charts) == {"24h", "7d"}
    day = charts["24h"]
    assert 'fill="#0969da"' in str(day["identification_chart"])  # resolved = blue, as in the chips
    assert [d["destination"] for d in day["deliveries"]] == ["K (klaviyo)"]
    assert "succeeded: 2 (67%)" in str(day["deliveries"][0]["chart"])
    assert "No data yet" in str(charts["7d"]["types_chart"])


def test_stacked_bar_legend_shows_every_segment_inside_the_chart():
    """Five delivery states or four identification states: no legend item may fall outside the SVG."""
    labels = ["succeeded", "dry run", "pending", "retrying", "held", "dead"]
    svg = str(stacked_bar([Segment(label, i + 1) for i, label in enumerate(labels)], width=420))
    width, height = (float(v) for v in re.search(r'viewBox="0 0 (\S+) (\S+)"', svg).groups())
    items = re.findall(r'<text class="rc-legend" x="([^"]+)" y="([^"]+)"[^>]*>([^<]+)</text>', svg)
    assert [text for _, _, text in items] == [f"{label} {i + 1}" for i, label in enumerate(labels)]
    for x, y, text in items:
        assert float(x) + 6.5 * len(text) <= width, text  # ~6.5 px per character at 11 px
        assert float(y) <= height, text
    for (x1, y1, t1), (x2, y2, _) in itertools.pairwise(items):  # on one line, no item runs into the next
        if y1 == y2:
            assert float(x1) + 6.5 * len(t1) < float(x2) - 14, t1


def test_stacked_bar_legend_long_labels_do_not_overlap():
    svg = str(stacked_bar([Segment("identified", 1), Segment("resolved by Recapture", 4), Segment("anonymous", 1)]))
    items = re.findall(r'<text class="rc-legend" x="([^"]+)" y="([^"]+)"[^>]*>([^<]+)</text>', svg)
    assert items[1][2] == "resolved by Recapture 4"
    same_line = [(float(x), t) for x, y, t in items if y == items[1][1]]
    for (x1, t1), (x2, _) in itertools.pairwise(same_line):
        assert x1 + 6.5 * len(t1) < x2 - 14
