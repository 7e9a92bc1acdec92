"""Admin plumbing shared by every app's admin: a fast paginator and status chips."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString

# Status -> chip colour. Green means done, amber means waiting, red means needs a human.
CHIP_COLOURS = {
    "succeeded": "#1a7f37",
    "active": "#1a7f37",
    "native": "#1a7f37",
    "resolved": "#0969da",
    "pending": "#9a6700",
    "sending": "#9a6700",
    "retrying": "#9a6700",
    "held": "#8250df",
    "anonymous": "#6e7781",
    "dead": "#cf222e",
    "error": "#cf222e",
}


def chip(label: str, *, status: str = "", title: str = "") -> SafeString:
    """A small coloured pill; ``status`` picks the colour (defaults to the label)."""
    colour = CHIP_COLOURS.get(status or label, "#6e7781")
    return format_html(
        '<span class="rc-chip" title="{}" style="display:inline-block;padding:1px 7px;margin:1px;'
        'border-radius:9px;color:#fff;background:{};font-size:11px;white-space:nowrap">{}</span>',
        title,
        colour,
        label,
    )


def estimated_row_count(model) -> int | None:
    """PostgreSQL's planner estimate of a table's rows (pg_class.reltuples), or None elsewhere."""
    connection = connections["default"]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table])
        row = cursor.fetchone()
    if row is None or row[0] is None or row[0] < 0:  # -1: never analysed
        return None
    return int(row[0])


class EstimatedCountPaginator(Paginator):
    """Counting 1M rows on every page view is slow on PostgreSQL: estimate when unfiltered.

    A filtered list counts exactly (filters are indexed, so the count is bounded); an
    unfiltered one uses pg_class.reltuples when the estimate is large enough to matter.
    """

    exact_below = 10_000

    @cached_property
    def count(self) -> int:
        query = getattr(self.object_list, "query", None)
        if query is not None and not query.where:
            estimate = estimated_row_count(self.object_list.model)
            if estimate is not None and estimate >= self.exact_below:
                return estimate
        return super().count


class ReadOnlyAdminMixin:
    """Rows written by services, never by hand: staff can view them, not add or edit."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class LogTableAdminMixin(ReadOnlyAdminMixin):
    """Log tables (events, deliveries, webhooks, merges): read-only and never deleted by hand."""

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
