"""The estimated-count paginator: pg_class.reltuples when unfiltered on PostgreSQL, exact otherwise."""

from __future__ import annotations

import pytest
from django.db import connection

from config.admin import EstimatedCountPaginator, estimated_row_count
from events.models import Event
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def test_filtered_lists_count_exactly(merchant):
    EventFactory.create_batch(3, merchant=merchant)
    paginator = EstimatedCountPaginator(Event.objects.filter(merchant=merchant).order_by("-id"), 2)
    assert paginator.count == 3 and paginator.num_pages == 2


def test_small_unfiltered_lists_count_exactly(merchant, monkeypatch):
    EventFactory.create_batch(3, merchant=merchant)
    monkeypatch.setattr("config.admin.estimated_row_count", lambda model: 7)  # below exact_below
    assert EstimatedCountPaginator(Event.objects.order_by("-id"), 50).count == 3


def test_large_unfiltered_lists_use_the_estimate(merchant, monkeypatch, django_assert_num_queries):
    EventFactory(merchant=merchant)
    monkeypatch.setattr("config.admin.estimated_row_count", lambda model: 1_000_000)
    paginator = EstimatedCountPaginator(Event.objects.order_by("-id"), 50)
    with django_assert_num_queries(0):
        assert paginator.count == 1_000_000
    assert paginator.num_pages == 20_000


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite has no planner estimate")
def test_estimate_is_none_on_sqlite():
    assert estimated_row_count(Event) is None


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
def test_estimate_reads_reltuples_after_analyze(merchant):
    EventFactory.create_batch(25, merchant=merchant)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Event._meta.db_table}")
    assert estimated_row_count(Event) == 25
