"""Update only (and Loops' customer-id-only shoppers): send an event only to a profile the
platform already has, because the event itself would create one.

Look-ups are batched per delivery batch (Klaviyo: 100 profiles a request) and remembered:
a found profile's platform id is kept in SyncedProfile (shared by every worker, so each
person is looked up once), and every answer, found or not, in this process for
EXISTENCE_CACHE_SECONDS, so a held person is not asked about again for each event.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence

from destinations.clients.base import DestinationClient
from destinations.models import Destination
from destinations.services.plan import Plan
from destinations.services.transport import Recorder

EXISTENCE_CACHE_SECONDS = 300.0
HOLD_REASON = "{kind} has no profile for this person yet; update only never creates one (held)"
_cache: dict[tuple[int, str], tuple[float, str | None]] = {}
_lock = threading.Lock()


def forget_existence() -> None:
    with _lock:
        _cache.clear()


def _cached(destination_id: int, key: str) -> tuple[bool, str | None]:
    with _lock:
        hit = _cache.get((destination_id, key))
    if hit and hit[0] > time.monotonic():
        return True, hit[1]
    return False, None


def _remember(destination_id: int, answers: dict[str, str | None]) -> None:
    until = time.monotonic() + EXISTENCE_CACHE_SECONDS
    with _lock:
        for key, remote_id in answers.items():
            _cache[(destination_id, key)] = (until, remote_id)


def check_existing(
    destination: Destination, client: DestinationClient, plans: Sequence[Plan], known: dict[int, str]
) -> None:
    """Give each plan that needs it its platform id, hold it, or (look-up failed) retry it."""
    todo = [p for p in plans if not p.held and p.outcome is None and client.needs_existing(p.event.person)]
    unknown: list[Plan] = []
    for plan in todo:
        person, key = plan.event.person, client.lookup_key(plan.event.person)
        remote = known.get(person.profile_id or 0)
        hit, cached = (True, remote) if remote else _cached(destination.pk, key)
        if not key:
            _hold(plan, client)
        elif hit:
            _apply(plan, client, cached, persist=False)
        else:
            unknown.append(plan)
    if not unknown:
        return
    recorder = Recorder(client, dry_run=destination.dry_run)
    outcome, found = client.find_existing([p.event.person for p in unknown], recorder)
    unknown[0].records = unknown[0].records + recorder.records
    if not outcome.ok:
        for plan in unknown:
            plan.outcome = outcome
        return
    keys = {client.lookup_key(p.event.person) for p in unknown}
    _remember(destination.pk, {k: found.get(k) for k in keys} if not destination.dry_run else {})
    for plan in unknown:
        _apply(plan, client, found.get(client.lookup_key(plan.event.person)), persist=True)


def _apply(plan: Plan, client: DestinationClient, remote_id: str | None, *, persist: bool) -> None:
    if remote_id is None:
        _hold(plan, client)
        return
    person = dataclasses.replace(plan.event.person, remote_id=remote_id)
    plan.event = dataclasses.replace(plan.event, person=person)
    if persist and remote_id:
        plan.found_remote_id = remote_id


def _hold(plan: Plan, client: DestinationClient) -> None:
    plan.held = True
    plan.hold_reason = HOLD_REASON.format(kind=client.kind.title())
