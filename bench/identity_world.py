"""A storefront's traffic with known ground truth, for the identity simulator (pure, no Django).

Shoppers live in households (1-3 people, one home network); each has a phone (iOS or
Android, with an in-app browser of its own cookie jar for social ads), maybe a personal
laptop, and a household may share one laptop. Several sessions a day: direct visits, ad
clicks (fbclid, gclid, ttclid; social ads open in the in-app browser, and some shoppers
then hand over to the phone's own browser), Klaviyo email clicks (``_kx``), links shared
with a housemate or a stranger, newsletter sign-ups, checkouts with an email (some shoppers
type placeholder emails), purchases. Every event knows who really sent it.

Modelling assumption, stated where the figures are reported: two people never use the
shared laptop less than SHARED_HANDOVER_MIN apart (one sits down after the other has
left); within one session gap (30 min) no rule can tell two people apart.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

UA = {
    ("ios", "browser"): "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    ("ios", "app"): "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Instagram 334.0.4.32.98 (iPhone14,5; iOS 17_5; en_US)",
    ("android", "browser"): "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    ("android", "app"): "Mozilla/5.0 (Linux; Android 14; Pixel 8; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/131.0.0.0 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/450.0.0.0;]",
    ("macos", "browser"): "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    ("windows", "browser"): "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
}
JUNK_EMAILS = ("test@test.com", "asdf@asdf.com", "none@none.com", "a@a.com", "qwerty@gmail.com", "no@no.com")
ABANDONMENT = ("ViewContent", "AddToCart", "InitiateCheckout")
SESSION_GAP = timedelta(minutes=30)
LOOKBACK = timedelta(hours=24)
SHARED_HANDOVER_MIN = timedelta(minutes=45)
START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


@dataclass
class Device:
    key: str  # the browser's anonymous_id cookie
    os: str
    kind: str  # "app" (in-app browser) or "browser"
    users: list[int]
    form: str  # "phone" or "laptop"

    @property
    def shared(self) -> bool:
        return len(set(self.users)) > 1

    @property
    def ua(self) -> str:
        return UA[(self.os, self.kind)]


@dataclass
class Person:
    pid: int
    email: str
    household: int
    in_klaviyo: bool
    kx: str
    junk_typer: bool
    phone: Device
    phone_app: Device
    laptop: Device | None = None


@dataclass
class SimEvent:
    """One event with its truth: who sent it, on which device, in which of their sessions."""

    at: datetime
    type: str
    person: int
    device: Device
    ip: str
    session: int
    identifiers: dict[str, str] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def identifies(self) -> str:
        """The valid email this event gives (checkout, sign-up), or ""."""
        email = self.identifiers.get("email", "")
        return "" if email in JUNK_EMAILS else email


@dataclass
class World:
    persons: list[Person]
    events: list[SimEvent]
    klaviyo: dict[str, str]  # _kx -> email, what Klaviyo knows


def build_world(*, seed: int, households: int, days: int) -> World:
    rng = random.Random(seed)
    persons: list[Person] = []
    shared_laptops: dict[int, Device] = {}
    for h in range(households):
        size = rng.choices((1, 2, 3), weights=(45, 40, 15))[0]
        if size > 1 and rng.random() < 0.5:
            shared_laptops[h] = Device(
                f"hl{h}-{rng.getrandbits(32):x}", rng.choice(("macos", "windows")), "browser", [], "laptop"
            )
        for _ in range(size):
            persons.append(_person(rng, len(persons), h))
    for person in persons:
        if person.household in shared_laptops and person.laptop is None:
            person.laptop = shared_laptops[person.household]
            person.laptop.users.append(person.pid)
    events: list[SimEvent] = []
    session = 0
    for day in range(days):
        for person in persons:
            for _ in range(rng.choices((0, 1, 2, 3), weights=(35, 35, 20, 10))[0]):
                session += 1
                at = START + timedelta(days=day, hours=rng.uniform(8, 23))
                events.extend(_session(rng, person, persons, at, session))
    events = _space_shared_laptops(events)
    events.sort(key=lambda e: e.at)
    klaviyo = {p.kx: p.email for p in persons if p.in_klaviyo}
    return World(persons, events, klaviyo)


def _person(rng: random.Random, pid: int, household: int) -> Person:
    os_ = rng.choice(("ios", "android"))
    phone = Device(f"ph{pid}-{rng.getrandbits(32):x}", os_, "browser", [pid], "phone")
    app = Device(f"ia{pid}-{rng.getrandbits(32):x}", os_, "app", [pid], "phone")
    person = Person(
        pid=pid,
        email=f"shopper{pid}.{rng.getrandbits(20):x}@mailbox.io",
        household=household,
        in_klaviyo=rng.random() < 0.6,
        kx=f"kx{rng.getrandbits(64):x}",
        junk_typer=rng.random() < 0.08,
        phone=phone,
        phone_app=app,
    )
    if rng.random() < 0.35:
        person.laptop = Device(
            f"lt{pid}-{rng.getrandbits(32):x}", rng.choice(("macos", "windows")), "browser", [pid], "laptop"
        )
    return person


def home_ip(household: int, host: int) -> str:
    return f"198.18.{household // 200}.{(household % 200) + 1}" if host == 0 else f"198.18.{household // 200}.{host}"


def _network(rng: random.Random, person: Person, form: str) -> str:
    if form == "laptop" or rng.random() < 0.6:
        return f"198.18.{person.household // 250}.{person.household % 250}"  # the home network (one /24 each)
    return f"100.{64 + person.pid % 60}.{person.pid // 60 % 250}.{rng.randrange(1, 250)}"  # the phone's own carrier


def _session(rng: random.Random, person: Person, persons: list[Person], at: datetime, session: int) -> list[SimEvent]:
    on_laptop = person.laptop is not None and rng.random() < 0.45
    device = person.laptop if on_laptop else person.phone
    ip = _network(rng, person, device.form)
    landing: dict[str, str] = {}
    roll = rng.random()
    out: list[SimEvent] = []
    if roll < 0.25:  # an ad click
        kind = rng.choices(("fbclid", "gclid", "ttclid"), weights=(60, 25, 15))[0]
        landing[kind] = f"{kind[:2]}{rng.getrandbits(64):x}"
        if device.form == "phone" and kind != "gclid" and rng.random() < 0.7:
            out.extend(_in_app_part(rng, person, at, ip, session, landing))
            if not out or rng.random() >= 0.45:
                _maybe_share(rng, person, persons, at, landing, out, session)
                return out
            at = out[-1].at + timedelta(minutes=rng.uniform(0.5, 6))  # "open in browser": the handoff
        _maybe_share(rng, person, persons, at, landing, out, session)
    elif roll < 0.40 and person.in_klaviyo:
        landing["kx"] = person.kx  # a Klaviyo email click
    out.extend(_browse(rng, person, device, at, ip, session, landing))
    return out


def _in_app_part(rng, person, at, ip, session, landing) -> list[SimEvent]:
    events = [SimEvent(at, "PageView", person.pid, person.phone_app, ip, session, dict(landing))]
    for _ in range(rng.randrange(0, 3)):
        at += timedelta(minutes=rng.uniform(0.5, 3))
        events.append(SimEvent(at, "ViewContent", person.pid, person.phone_app, ip, session))
    return events


def _browse(rng, person, device, at, ip, session, landing) -> list[SimEvent]:
    events = [SimEvent(at, "PageView", person.pid, device, ip, session, dict(landing))]
    for _ in range(rng.randrange(1, 6)):
        at += timedelta(minutes=rng.uniform(0.5, 4))
        events.append(SimEvent(at, "ViewContent", person.pid, device, ip, session))
    if rng.random() < 0.05:
        at += timedelta(minutes=1)
        events.append(SimEvent(at, "Identify", person.pid, device, ip, session, {"email": person.email}))
    if rng.random() < 0.35:
        at += timedelta(minutes=rng.uniform(0.5, 3))
        events.append(SimEvent(at, "AddToCart", person.pid, device, ip, session))
        if rng.random() < 0.4:
            email = rng.choice(JUNK_EMAILS) if person.junk_typer and rng.random() < 0.6 else person.email
            at += timedelta(minutes=rng.uniform(1, 5))
            events.append(SimEvent(at, "InitiateCheckout", person.pid, device, ip, session, {"email": email}))
            if rng.random() < 0.5:
                at += timedelta(minutes=rng.uniform(2, 6))
                events.append(SimEvent(at, "Purchase", person.pid, device, ip, session, {"email": email}))
    return events


def _maybe_share(rng, sharer, persons, at, landing, out, session) -> None:
    """A shared ad link: a housemate (same home network) or a stranger opens it on their own device."""
    if rng.random() >= 0.12:
        return
    housemates = [p for p in persons if p.household == sharer.household and p.pid != sharer.pid]
    to = rng.choice(housemates) if housemates and rng.random() < 0.5 else rng.choice(persons)
    if to.pid == sharer.pid:
        return
    device = to.phone if rng.random() < 0.7 or to.laptop is None else to.laptop
    ip = (
        _network(rng, to, device.form)
        if to.household != sharer.household
        else f"198.18.{to.household // 250}.{to.household % 250}"
    )
    when = at + timedelta(minutes=rng.uniform(3, 55))
    out.extend(_browse(rng, to, device, when, ip, -session, {k: v for k, v in landing.items() if k != "kx"}))


def _space_shared_laptops(events: list[SimEvent]) -> list[SimEvent]:
    """Drop a person's session on a shared laptop that starts within SHARED_HANDOVER_MIN of another's."""
    by_session: dict[int, list[SimEvent]] = {}
    for event in events:
        by_session.setdefault(event.session, []).append(event)
    kept: list[SimEvent] = []
    busy: dict[str, list[tuple[datetime, datetime, int]]] = {}
    for group in sorted(by_session.values(), key=lambda g: g[0].at):
        laptop = [e for e in group if e.device.shared]
        if laptop:
            start, end = laptop[0].at, laptop[-1].at
            spans = busy.setdefault(laptop[0].device.key, [])
            if any(
                p != group[0].person and start < e + SHARED_HANDOVER_MIN and s < end + SHARED_HANDOVER_MIN
                for s, e, p in spans
            ):
                continue
            spans.append((start, end, group[0].person))
        kept.extend(group)
    return kept


# --- Ground truth: the safe ceiling and what Klaviyo alone knows --------------------------


def device_sessions(events: list[SimEvent]) -> dict[str, int]:
    """event_id -> the device session it belongs to (one device, gaps of at most SESSION_GAP)."""
    last: dict[str, tuple[datetime, int]] = {}
    out: dict[str, int] = {}
    counter = 0
    for event in events:
        seen = last.get(event.device.key)
        if seen is None or event.at - seen[0] > SESSION_GAP:
            counter += 1
            seen = (event.at, counter)
        last[event.device.key] = (event.at, seen[1])
        out[event.event_id] = seen[1]
    return out


def _identity_of(event: SimEvent, world: World) -> str:
    """The valid identity an event gives: its email, or the email Klaviyo holds for its _kx."""
    return event.identifies or world.klaviyo.get(event.identifiers.get("kx", ""), "")


def _handoff_pairs(world: World) -> set[tuple[str, str]]:
    """(in-app device, browser device) of one person's real handoffs (same click id, same session)."""
    firsts: dict[tuple[int, str], SimEvent] = {}
    pairs = set()
    for event in world.events:
        for kind, value in event.identifiers.items():
            if kind in ("fbclid", "ttclid", "gclid"):
                first = firsts.setdefault((event.session, value), event)
                if first.device.kind == "app" and event.device.kind == "browser" and first.person == event.person:
                    pairs.add((first.device.key, event.device.key))
    return pairs


def safe_ceiling(world: World, *, oracle: bool = False) -> set[str]:
    """Abandonment events that could be attributed to their sender on safe evidence, in time.

    Evidence is safe when it cannot point to someone else: an identification on the same phone
    (or one linked by a real handoff), or in the same session on a laptop, since nobody can
    tell a household's laptop from a personal one. ``oracle`` counts personal laptops like
    phones (what an observer who knew every laptop's users could attribute)."""
    sessions = device_sessions(world.events)
    linked: dict[str, set[str]] = {}
    for a, b in _handoff_pairs(world):
        linked.setdefault(a, {a}).add(b)
        linked.setdefault(b, {b}).add(a)
    ids: list[tuple[SimEvent, str]] = [(e, _identity_of(e, world)) for e in world.events]
    by_device: dict[str, list[tuple[SimEvent, str]]] = {}
    for event, identity in ids:
        if identity:
            by_device.setdefault(event.device.key, []).append((event, identity))
    emails = {p.pid: p.email for p in world.persons}
    out = set()
    for event in world.events:
        if event.type not in ABANDONMENT:
            continue
        mine = emails[event.person]
        for key in linked.get(event.device.key, {event.device.key}):
            for other, identity in by_device.get(key, []):
                if identity != mine:
                    continue
                same = sessions[other.event_id] == sessions[event.event_id]
                in_time = other.at <= event.at or event.at >= other.at - LOOKBACK
                personal = not event.device.shared and (oracle or event.device.form == "phone")
                if (same or personal) and in_time:
                    out.add(event.event_id)
    return out


def klaviyo_alone(world: World) -> dict[str, str]:
    """event_id -> the identity Klaviyo's own browser cookie would give (the last to identify owns it)."""
    cookie: dict[str, str] = {}
    out = {}
    for event in world.events:
        given = event.identifiers.get("email", "") or world.klaviyo.get(event.identifiers.get("kx", ""), "")
        if given:
            cookie[event.device.key] = given
        if event.type in ABANDONMENT and event.device.key in cookie:
            out[event.event_id] = cookie[event.device.key]
    return out
