"""django-q2 tasks of the pipeline app: take ids, call a service."""

from __future__ import annotations

from pipeline import retention


def prune_data() -> None:
    """Every retention period (Schedule ``pipeline.prune_data``, daily)."""
    retention.prune_data()
