"""Admin plumbing shared by every app's admin: a fast paginator and status chips."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

# Status -> chip colour. Green means done, amber means waiting, red means needs a human.
CHIP_COLOURS = {
    "succeeded": "#1a7f37",
    "active": "#1a7f37",
    "native": "#1a7f37",
    "processing": "#6e7781",
    "resolved": "#0969da",
    "pending": "#9a6700",
    "sending": "#9a6700",
    "retrying": "#bc4c00",
    "dry run": "#1b7c83",
    "unverified": "#9a6700",
    "verified": "#1a7f37",
    "held": "#8250df",
    "anonymous": "#6e7781",
    "dead": "#cf222e",
    "error": "#cf222e",
}


CHIP_STYLE = (
    "display:inline-block;padding:1px 7px;margin:1px;border-radius:9px;color:#fff;background:{};"
    "font-size:11px;white-space:nowrap;text-decoration:none"
)


def chip(label: str, *, status: str = "", title: str = "", url: str = "") -> SafeString:
    """A small coloured pill; ``status`` picks the colour (defaults to the label); ``url`` makes it a link."""
    colour = CHIP_COLOURS.get(status or label, "#6e7781")
    tag = format_html('<a href="{}"', url) if url else mark_safe("<span")
    return format_html(
        '{} class="rc-chip rc-status-{}" title="{}" style="{}">{}</{}>',
        tag,
        (status or label).replace(" ", "-"),
        title,
        format_html(CHIP_STYLE, colour),
        label,
        "a" if url else "span",
    )


# --- Identification words (event list, live stream, dashboard legend): word, what it means ---
IDENTIFICATION_WORDS = {
    "native": ("identified", "the event itself named the shopper (email, customer id)"),
    "resolved": ("resolved", "Recapture linked this anonymous session to a known shopper"),
    "anonymous": ("anonymous", "no safe evidence of who the shopper is (yet)"),
    "pending": ("processing", "received, identity not decided yet"),
}


def identification_chip(value: str, *, detail: str = "") -> SafeString:
    word, meaning = IDENTIFICATION_WORDS.get(value, (value, ""))
    return chip(word, status=value, title=f"{meaning}. {detail}".strip(". ") if detail else meaning)


# --- One delivery vocabulary for every page (lists, event page, live stream, dashboard) ---

# state -> what it means, shown as the chip's tooltip and in the filters.
DELIVERY_STATES = {
    "held": "waiting for the shopper's identity",
    "pending": "queued, not tried yet",
    "retrying": "a try failed; it will be retried",
    "succeeded": "accepted by the platform",
    "dry run": "dry run: the request was recorded, not sent",
    "dead": "gave up; replay it once the cause is fixed",
}


def delivery_state(status: str, attempts: int = 0, dry_run: bool = False) -> str:
    """The console's word for a delivery: pending/sending split into first try and retrying; dry runs apart."""
    if status in ("pending", "sending"):
        return "retrying" if attempts > 0 else "pending"
    if status == "succeeded" and dry_run:
        return "dry run"
    return status


def delivery_state_q(state: str, *, prefix: str = "") -> Q:
    """The rows of Delivery (fields under ``prefix``) in one console state; an unknown state matches none."""
    f = {name: f"{prefix}{name}" for name in ("status", "attempts", "dry_run")}
    active = Q(**{f"{f['status']}__in": ["pending", "sending"]})
    queries = {
        "held": Q(**{f["status"]: "held"}),
        "pending": active & Q(**{f["attempts"]: 0}),
        "retrying": active & Q(**{f"{f['attempts']}__gt": 0}),
        "succeeded": Q(**{f["status"]: "succeeded", f["dry_run"]: False}),
        "dry run": Q(**{f["status"]: "succeeded", f["dry_run"]: True}),
        "dead": Q(**{f["status"]: "dead"}),
    }
    return queries.get(state, Q(pk__in=[]))


def delivery_chip(status: str, *, attempts: int = 0, dry_run: bool = False, prefix: str = "", url: str = ""):
    state = delivery_state(status, attempts, dry_run)
    label = f"{prefix}: {state}" if prefix else state
    return chip(label, status=state, title=DELIVERY_STATES.get(state, ""), url=url)


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


class WebhookLogAdminMixin(LogTableAdminMixin):
    """A signed-webhook log (Loop, Shopify): state chip, pretty body and a reprocess action.

    Subclasses set ``state_colours``, ``reprocess_perm`` ("app.change_model") and
    ``reprocess_webhook`` (the service that re-queues one row, as a staticmethod).
    """

    state_colours: dict[str, str] = {}
    reprocess_perm = ""
    reprocess_webhook: Callable[[Any], None]
    actions = ["reprocess"]

    def has_reprocess_permission(self, request) -> bool:
        return request.user.has_perm(self.reprocess_perm)

    @admin.display(description="State", ordering="state")
    def state_chip(self, obj):
        return chip(obj.get_state_display(), status=self.state_colours.get(obj.state, obj.state))

    @admin.display(description="Body")
    def body_pretty(self, obj):
        try:
            text = json.dumps(json.loads(obj.body), indent=2, sort_keys=True)
        except ValueError:
            text = obj.body
        return format_html('<pre style="white-space:pre-wrap;max-width:900px">{}</pre>', text)

    @admin.action(description="Reprocess selected webhooks (failed or stale ones too)", permissions=["reprocess"])
    def reprocess(self, request, queryset) -> None:
        count = 0
        for webhook in queryset:
            self.reprocess_webhook(webhook)
            self.log_change(request, webhook, "Queued for reprocessing.")
            count += 1
        self.message_user(request, f"{count} webhooks queued for reprocessing.", messages.SUCCESS)
