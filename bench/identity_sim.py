"""Identity simulator: real resolution on traffic with known ground truth (bench/identity_world.py).

    .venv/bin/python bench/identity_sim.py --households 400 --days 7 --seed 1

Runs on a fresh SQLite file by default (``--database-url`` for PostgreSQL). The world's
events are stored and resolved in ten-minute batches at their own time (the clock is
moved), each with the client hint its request would have had (events.hints). After each
batch, profiles holding a Klaviyo ``_kx`` and no email are looked up the way
``destinations.services.exchange`` does it, against a fake Klaviyo that knows the
world's subscribers, and the email is attached. Every time an abandonment event
(ViewContent, AddToCart, InitiateCheckout) would be sent, the identity it would go out
under is recorded: its profile's email, or for a ``_kx``-only Klaviyo event the person
Klaviyo holds for that ``_kx``.

It reports the share of abandonment events delivered under the right identity against the
safe ceiling (bench/identity_world.safe_ceiling), the same for Klaviyo alone (its browser
cookie: the last to identify owns it), and the events sent under a wrong person by cause
(the rule of their identity decision). Writes bench/results/identity_sim.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.identity_world import ABANDONMENT, World, build_world, klaviyo_alone, safe_ceiling  # noqa: E402

BATCH = timedelta(minutes=10)


def fake_klaviyo(world: World):
    """A Transport answering Get Profiles ?filter=equals(_kx,"…") from what Klaviyo knows."""
    from destinations.clients.base import HttpResult

    def send(request):
        kx = request.params["filter"].split('"')[1]
        email = world.klaviyo.get(kx)
        data = [{"type": "profile", "id": f"01K{abs(hash(kx))}", "attributes": {"email": email}}] if email else []
        return HttpResult(200, body=json.dumps({"data": data}))

    return send


def run_pipeline(world: World, merchant) -> dict[str, list[tuple[str, str]]]:
    """event_id -> [(identity it was sent under, rule)] for every send of an abandonment event."""
    import time_machine
    from django.conf import settings

    from destinations.models import Destination
    from events.hints import client_hint, hint_key
    from events.models import Event
    from identity.services import resolve_events

    key = hint_key(settings.SECRET_KEY)
    destination = Destination.objects.create(merchant=merchant, kind="klaviyo", name="sim", api_key="pk_sim")
    sends: dict[str, list[tuple[str, str]]] = {}
    batches: dict[int, list] = {}
    start = world.events[0].at
    for event in world.events:
        batches.setdefault(int((event.at - start) / BATCH), []).append(event)
    send = fake_klaviyo(world)
    for index in sorted(batches):
        with time_machine.travel(start + BATCH * (index + 1), tick=False):
            rows = Event.objects.bulk_create(
                Event(
                    merchant=merchant,
                    event_id=e.event_id,
                    type=e.type,
                    anonymous_id=e.device.key,
                    timestamp=e.at,
                    identifiers=dict(e.identifiers),
                    client_hint=client_hint(e.ip, e.device.ua, key=key),
                )
                for e in batches[index]
            )
            for row in rows:
                row.merchant = merchant
            outcome = resolve_events(events=rows)
            _record(sends, [*outcome.events, *outcome.reidentified], world)
            _record(sends, _klaviyo_lookups(outcome.events, destination, send), world)
    return sends


def _klaviyo_lookups(events, destination, send) -> list:
    from destinations.services.exchange import lookup_kx
    from identity.services import attach_contact

    found = []
    waiting = {e.profile.pk: e.profile for e in events if e.profile and e.profile.klaviyo_kx and not e.profile.email}
    for profile in waiting.values():
        contact = lookup_kx(destination, profile.klaviyo_kx, send=send)
        if contact and contact[0]:
            found.extend(attach_contact(destination.merchant, kx=profile.klaviyo_kx, email=contact[0]))
    return found


def _record(sends: dict, events: list, world: World) -> None:
    from destinations.services.outbound import person_of

    for event in events:
        if event.type not in ABANDONMENT:
            continue
        person = person_of(event)
        identity = person.email or world.klaviyo.get(person.kx, "")
        if identity:
            rule = (event.identity_decision or {}).get("rule", "")
            sends.setdefault(event.event_id, []).append((identity, rule))


def score(world: World, sends: dict[str, list[tuple[str, str]]]) -> dict:
    truth = {e.event_id: e for e in world.events if e.type in ABANDONMENT}
    email_of = {p.pid: p.email for p in world.persons}
    ceiling = safe_ceiling(world)
    oracle = safe_ceiling(world, oracle=True)
    right, wrong = set(), Counter()
    for event_id, sent in sends.items():
        mine = email_of[truth[event_id].person]
        bad = [rule for identity, rule in sent if identity != mine]
        if bad:
            wrong[bad[0] or "unknown"] += 1
        else:
            right.add(event_id)
    native = klaviyo_alone(world)
    native_right = {i for i, identity in native.items() if identity == email_of[truth[i].person]}
    share = lambda part: round(100 * len(part & ceiling) / max(1, len(ceiling)), 1)  # noqa: E731
    return {
        "persons": len(world.persons),
        "events": len(world.events),
        "abandonment_events": len(truth),
        "safe_ceiling": len(ceiling),
        "right_identity": len(right),
        "right_within_ceiling_pct": share(right),
        "right_outside_ceiling": len(right - ceiling),
        "oracle_ceiling": len(oracle),
        "right_within_oracle_pct": round(100 * len(right & oracle) / max(1, len(oracle)), 1),
        "klaviyo_alone_right": len(native_right),
        "klaviyo_alone_within_ceiling_pct": share(native_right),
        "klaviyo_alone_wrong_person": len(native) - len(native_right),
        "lift_over_klaviyo_alone": round(len(right) / max(1, len(native_right)), 2),
        "wrong_person": sum(wrong.values()),
        "wrong_person_by_cause": dict(wrong),
    }


def simulate(*, seed: int, households: int, days: int, merchant) -> dict:
    world = build_world(seed=seed, households=households, days=days)
    return score(world, run_pipeline(world, merchant))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=400)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/identity_sim.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    from events.models import Merchant

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    Merchant.objects.filter(shop_domain="identity-sim.myshopify.com").delete()
    merchant = Merchant.objects.create(name="Identity sim", shop_domain="identity-sim.myshopify.com")
    result = {"seed": args.seed, "households": args.households, "days": args.days}
    result.update(simulate(seed=args.seed, households=args.households, days=args.days, merchant=merchant))
    out = ROOT / "bench" / "results" / "identity_sim.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
