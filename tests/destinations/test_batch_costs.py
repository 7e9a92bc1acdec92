"""What a delivery batch costs: shared rows, look-ups made once, the same results as without the caches."""

from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation

import pytest
import responses

from destinations import mapping
from destinations.clients.base import HttpRequest, OutboundEvent, Person
from destinations.clients.klaviyo import bulk_job_body
from destinations.services import claim_deliveries, deliver_pending, schedule_deliveries
from destinations.services.transport import encoded_body
from tests.destinations.conftest import KLAVIYO, T0, make_event
from tests.destinations.test_payloads import CONFIG

BULK_URL = f"{KLAVIYO}/api/event-bulk-create-jobs"


def _events(merchant, count: int, prefix: str = "c"):
    return [
        make_event(merchant, event_id=f"{prefix}{i}", identifiers={"email": f"shopper{i}@acme.io"})
        for i in range(count)
    ]


def test_claimed_batch_shares_one_destination_and_merchant(merchant, klaviyo, django_assert_num_queries):
    schedule_deliveries(events=_events(merchant, 12))
    claimed = claim_deliveries(limit=100)
    assert len(claimed) == 12
    assert len({id(d.destination) for d in claimed}) == 1  # one object, one decrypted key
    with django_assert_num_queries(0):  # what payload building reads is loaded already
        regions = {d.destination.merchant.phone_region for d in claimed}
        traits = {tuple(d.event.merchant.forwarded_traits or ()) for d in claimed}
        keys = {d.destination.api_key for d in claimed}
    assert len(regions) == len(traits) == len(keys) == 1
    assert claimed[0].event.merchant is claimed[0].destination.merchant


def test_claim_queries_do_not_grow_with_the_batch(merchant, klaviyo, django_assert_max_num_queries):
    schedule_deliveries(events=_events(merchant, 5, "s"))
    with django_assert_max_num_queries(8) as small:
        assert len(claim_deliveries(limit=100)) == 5
    schedule_deliveries(events=_events(merchant, 60, "l"))
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(claim_deliveries(limit=100)) == 60


def test_bulk_batch_queries_do_not_grow_with_the_batch(mocked, merchant, klaviyo, django_assert_max_num_queries):
    """A bulk batch (above DELIVERY_BULK_THRESHOLD = 50) of 60 or 180 rows: the same statements."""
    klaviyo.profile_sync = "off"
    klaviyo.save()
    mocked.add(responses.POST, BULK_URL, status=202, json={"data": {"id": "JOB1"}})
    schedule_deliveries(events=_events(merchant, 60, "a"))
    with django_assert_max_num_queries(40) as first:
        assert deliver_pending(destination_id=klaviyo.pk) == {"succeeded": 60}
    schedule_deliveries(events=_events(merchant, 180, "b"))
    with django_assert_max_num_queries(len(first.captured_queries)):
        assert deliver_pending(destination_id=klaviyo.pk) == {"succeeded": 180}


def test_e164_parses_each_distinct_number_once():
    mapping._e164.cache_clear()
    answers = {mapping.e164("555-0142", region="US") for _ in range(50)}
    answers |= {mapping.e164("06 12 34 56 78", region="FR") for _ in range(50)}
    assert mapping._e164.cache_info().misses == 2
    assert answers == {None, "+33612345678"}  # 555-0142 is no valid US number
    assert mapping.e164("+33612345678", region="US") == mapping.e164("+33612345678", region="FR") == "+33612345678"
    assert mapping.e164("(415) 555-2671", region="US") == "+14155552671"
    assert mapping.e164("  ", region="US") is None


def _decimal_to_number(value):
    """to_number as it was: every value through Decimal (the reference for the fast path)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return float(number) if number.is_finite() else None


NUMBERS = (12.5, 0.1, 0.30000000000000004, -0.0, 1e308, 5e-324, math.inf, -math.inf, math.nan, 0, 3, -7, 2**53)
NOT_FLOATS = (2**53 + 1, 10**400, True, False, None, "12.50", " 3 ", "abc", "NaN", [], {})


@pytest.mark.parametrize("value", [*NUMBERS, *NOT_FLOATS])
def test_to_number_fast_path_matches_the_decimal_reading(value):
    got, want = mapping.to_number(value), _decimal_to_number(value)
    assert got == want and (got is None) == (want is None)
    if got is not None:
        assert math.copysign(1, got) == math.copysign(1, want)


def test_encoded_body_is_the_same_json_and_sets_content_type():
    body = {"data": {"name": "Añadido al carrito", "value": 12.5, "items": [1, None, True]}}
    headers, data = encoded_body(HttpRequest("event", "POST", "https://x.test/e", {"Authorization": "k"}, json=body))
    assert json.loads(data) == body
    assert headers == {"Authorization": "k", "Content-Type": "application/json"}
    own = {"content-type": "application/vnd.api+json"}
    assert encoded_body(HttpRequest("event", "POST", "https://x.test/e", own, json=body))[0] == own
    assert encoded_body(HttpRequest("find", "GET", "https://x.test/p", own)) == (own, None)


def test_encoded_body_falls_back_to_the_standard_encoder():
    body = {"big": 10**30}  # beyond orjson's 64-bit integers: sent as the standard library writes it
    assert json.loads(encoded_body(HttpRequest("event", "POST", "https://x.test/e", {}, json=body))[1]) == body
    with pytest.raises(TypeError):  # not JSON at all: the same error ``requests`` raised for json=
        encoded_body(HttpRequest("event", "POST", "https://x.test/e", {}, json={1j: 1}))


def test_bulk_job_groups_one_entry_per_person_as_their_digest_says():
    def event(n: int, person: Person) -> OutboundEvent:
        return OutboundEvent(f"e{n}", "ViewContent", "pixel", T0, person, {"ProductName": "Mug"})

    ann, bob = Person(email="ann@acme.io", first_name="Ann"), Person(email="bob@acme.io")
    consenting_ann = Person(email="ann@acme.io", first_name="Ann", subscribe_email=True)
    no_email_consent = Person(phone="+33612345678", subscribe_email=True)  # no email: subscribes nothing
    events = [event(1, ann), event(2, bob), event(3, Person(email="ann@acme.io", first_name="Ann"))]
    events += [event(4, consenting_ann), event(5, no_email_consent), event(6, Person(phone="+33612345678"))]
    entries = bulk_job_body(events, CONFIG)["data"]["attributes"]["events-bulk-create"]["data"]
    per_entry = [[e["attributes"]["unique_id"] for e in x["attributes"]["events"]["data"]] for x in entries]
    assert per_entry == [["e1", "e3"], ["e2"], ["e4"], ["e5", "e6"]]
