"""Klaviyo's "Active on Site": one per visit, not one per page view (pure: no ORM).

Klaviyo's own web tracking records it per visit of a known browser: "Active on Site tracking:
This metric is tracked whenever an identifiable browser visits your website" (Klaviyo Help
Center, "Understand Klaviyo's anonymous visitor activity backfill"); its integration guides
describe the metric as "When someone visits your website". A Shopify pixel sends
``page_viewed`` on every page, so Recapture turns into "Active on Site" only the page view that
starts a visit: one with no earlier page view of the same browser (clientId) or the same person
(profile) within ``KLAVIYO_ACTIVE_ON_SITE_GAP_MINUTES`` (30, the usual inactivity gap that ends
a web session). Later page views of the visit are not sent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class PageView:
    id: int
    anonymous_id: str
    profile_id: int | None
    timestamp: datetime

    def keys(self) -> list[tuple[str, object]]:
        """Who the view belongs to: the browser, the person, or both (none: an anonymised view)."""
        keys: list[tuple[str, object]] = []
        if self.anonymous_id:
            keys.append(("anonymous_id", self.anonymous_id))
        if self.profile_id is not None:
            keys.append(("profile", self.profile_id))
        return keys


def visit_starts(views: Iterable[PageView], history: Iterable[PageView], *, gap: timedelta) -> set[int]:
    """Ids of the ``views`` that start a visit: no page view in ``history`` (which may include
    ``views`` themselves) of the same browser or person in the ``gap`` before it. Ties in time go
    to the lower id, so two page views of one instant are one visit. A view that belongs to no
    one (consent anonymised it) starts nothing: it could never be attributed."""
    by_key: dict[tuple[str, object], list[PageView]] = defaultdict(list)
    for seen in history:
        for key in seen.keys():
            by_key[key].append(seen)
    starts: set[int] = set()
    for view in views:
        keys = view.keys()
        if keys and not any(_continues(view, other, gap) for key in keys for other in by_key[key]):
            starts.add(view.id)
    return starts


def _continues(view: PageView, other: PageView, gap: timedelta) -> bool:
    """Whether ``other`` is an earlier page view of the same visit as ``view``."""
    if other.id == view.id:
        return False
    earlier = (other.timestamp, other.id) < (view.timestamp, view.id)
    return earlier and view.timestamp - other.timestamp < gap
