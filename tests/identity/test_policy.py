"""Unit tests of identity.policy: pure decisions, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from identity.models import IdentifierType
from identity.policy import (
    ALL_TYPES,
    JUNK_VALUES,
    Key,
    Owner,
    ProfileView,
    blocklist,
    decide,
    extract_keys,
    is_native,
    merge_trait_sets,
    merge_traits,
    normalise_value,
)

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(days=30)
IN_APP, BROWSER = "a:ios:net1", "b:ios:net1"  # events.hints: in-app / browser, OS family, network
LIMITS = {"email": 5, "phone": 5, "shopify_customer_id": 5, "external_id": 5, "anonymous_id": 100}


def graph(*profiles: tuple[int, dict[str, list[str]]], seen: datetime = NOW):
    """Build owners + views; profile ids double as their age (lower is older)."""
    owners, views = {}, {}
    for pid, identifiers in profiles:
        views[pid] = ProfileView(age=(pid,), identifiers={t: set(v) for t, v in identifiers.items()})
        for kind, values in identifiers.items():
            for value in values:
                owners[Key(kind, value)] = Owner(pid, seen)
    return owners, views


def run(keys, owners, views, *, at=NOW, limits=LIMITS):
    return decide(keys, owners, views, at=at, click_window=WINDOW, limits=limits)


# --- normalisation / blocklist ------------------------------------------------------


def test_model_identifier_types_match_policy_order():
    assert tuple(IdentifierType.values) == ALL_TYPES


LONGEST = ("ann.lee" + "0123456789" * 7)[:64] + "@" + "d" * 61 + "." + "e" * 61 + "." + "f" * 62 + ".io"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Alice@Acme.IO ", "alice@acme.io"),
        ("alice@acme.io", "alice@acme.io"),
        ("not-an-email", None),
        ("a@b", None),
        ("", None),
        (None, None),
        ({"x": 1}, None),
        ("x" * 250 + "@acme.io", None),
        (LONGEST, LONGEST),  # 254 characters: the maximum (a 64-character local part, RFC 5321)
        (LONGEST.replace("@", "9@"), None),  # a 65-character local part
        (LONGEST.replace(".io", "x.io"), None),  # 255 characters
    ],
)
def test_normalise_value_email(raw, expected):
    assert normalise_value("email", raw) == expected


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("12", "US", None),
        ("call me", "US", None),
    ],
)
def test_normalise_value_phone_e164(raw, region, expected):
    assert normalise_value("phone", raw, default_region=region) == expected


def test_normalise_value_other_types_are_trimmed_not_lowercased():
    assert normalise_value("gclid", "  AbC123 ") == "AbC123"
    assert normalise_value("shopify_customer_id", 123456) == "123456"


@pytest.mark.parametrize("junk", ["undefined", "NULL", "None", "0", "-1", "anonymous", "Guest", "[object Object]", " "])
def test_extract_keys_drops_junk_values(junk):
    keys = extract_keys({"email": junk, "client_id": junk, "external_id": junk}, junk)
    assert keys == []


def test_extract_keys_drops_merchant_blocked_test_email_case_insensitively():
    blocked = blocklist(["Test@Shop.com"])
    keys = extract_keys({"email": " TEST@shop.com"}, "anon-1", blocked=blocked)
    assert keys == [Key("anonymous_id", "anon-1")]
    assert "undefined" in blocked and JUNK_VALUES <= blocked


def test_extract_keys_normalises_case_variant_email_to_one_key():
    a = extract_keys({"email": "Bob@Acme.io"}, "")
    b = extract_keys({"email": "bob@acme.IO "}, "")
    assert a == b == [Key("email", "bob@acme.io")]


def test_extract_keys_orders_strongest_first_and_ignores_unknown_types():
    keys = extract_keys(
        {"gclid": "g1", "email": "a@x.io", "fbp": "fb.1.2", "shoe_size": "9", "phone": "+14155552671"}, "anon"
    )
    assert keys == [
        Key("email", "a@x.io"),
        Key("phone", "+14155552671"),
        Key("anonymous_id", "anon"),
        Key("fbp", "fb.1.2"),
        Key("gclid", "g1"),
    ]


def test_is_native_only_for_email_or_phone():
    assert is_native([Key("email", "a@x.io")])
    assert is_native([Key("phone", "+14155552671")])
    assert not is_native([Key("shopify_customer_id", "1"), Key("anonymous_id", "a")])


# --- traits -----------------------------------------------------------------------


def test_merge_traits_newest_non_empty_value_wins_and_keeps_time():
    t1, t2 = NOW, NOW + timedelta(hours=1)
    traits, times = merge_traits({}, {}, {"first_name": "Al", "city": "Paris"}, t2)
    traits, times = merge_traits(traits, times, {"first_name": "Alan", "city": ""}, t1)  # older: ignored
    assert traits == {"first_name": "Al", "city": "Paris"}
    traits, times = merge_traits(
        traits, times, {"first_name": " Alice ", "city": None, "vip": True}, NOW + timedelta(hours=2)
    )
    assert traits == {"first_name": "Alice", "city": "Paris", "vip": True}
    assert times["first_name"] == (NOW + timedelta(hours=2)).isoformat()
    assert times["city"] == t2.isoformat()


def test_merge_trait_sets_picks_newest_per_key():
    a = ({"first_name": "Old", "zip": "1"}, {"first_name": NOW.isoformat(), "zip": NOW.isoformat()})
    b = (
        {"first_name": "New", "zip": "2"},
        {"first_name": (NOW + WINDOW).isoformat(), "zip": "2000-01-01T00:00:00+00:00"},
    )
    traits, _ = merge_trait_sets(a, b)
    assert traits == {"first_name": "New", "zip": "1"}


# --- the decision ---------------------------------------------------------------------


def test_decide_new_visitor_creates_profile_and_attaches_everything():
    keys = [Key("anonymous_id", "a1"), Key("client_id", "c1")]
    d = run(keys, {}, {})
    assert d.target is None and d.attach == keys and d.merges == [] and d.moves == []


def test_decide_no_identifiers_is_a_no_op():
    d = run([], {}, {})
    assert d.target is None and d.attach == [] and d.linked_by == ""


def test_decide_known_device_reuses_profile_and_attaches_new_email():
    owners, views = graph((1, {"anonymous_id": ["a1"]}))
    d = run([Key("email", "a@x.io"), Key("anonymous_id", "a1")], owners, views)
    assert d.target == 1 and d.attach == [Key("email", "a@x.io")] and d.merges == []
    assert d.linked_by == "anonymous_id"


def test_decide_returning_visitor_new_device_clicks_email_link_merges_via_kx():
    # Known customer (email + old cookie + _kx); new phone with a fresh cookie clicks a Klaviyo link.
    owners, views = graph((1, {"email": ["a@x.io"], "anonymous_id": ["laptop"], "kx": ["KX1"]}))
    d = run([Key("anonymous_id", "phone-cookie"), Key("kx", "KX1")], owners, views)
    assert d.target == 1
    assert d.attach == [Key("anonymous_id", "phone-cookie")]
    assert d.linked_by == "kx" and d.refused == []


def test_decide_returning_visitor_new_device_already_browsing_merges_into_oldest():
    # The new device already had its own anonymous profile (2); the kx click joins both.
    owners, views = graph((1, {"email": ["a@x.io"], "kx": ["KX1"]}), (2, {"anonymous_id": ["phone-cookie"]}))
    d = run([Key("anonymous_id", "phone-cookie"), Key("kx", "KX1")], owners, views)
    assert d.target == 1
    assert d.merges == [(2, Key("anonymous_id", "phone-cookie"))]
    assert d.linked_by == "kx"  # the identifier that reached the email


def test_decide_merge_goes_into_oldest_even_when_newer_holds_the_email():
    owners, views = graph((1, {"anonymous_id": ["a1"]}), (2, {"email": ["a@x.io"]}))
    d = run([Key("email", "a@x.io"), Key("anonymous_id", "a1")], owners, views)
    assert d.target == 1 and d.merges == [(2, Key("email", "a@x.io"))]


def test_decide_shared_laptop_second_shopper_gets_own_profile_and_the_device():
    # Alice used the laptop; Bob identifies on it with his own email.
    owners, views = graph((1, {"email": ["alice@x.io"], "anonymous_id": ["laptop"], "fbp": ["fb.1"]}))
    d = run([Key("email", "bob@x.io"), Key("anonymous_id", "laptop"), Key("fbp", "fb.1")], owners, views)
    assert d.target is None  # a new profile for Bob
    assert d.merges == []
    assert d.refused == [(1, "conflict")]
    assert d.attach == [Key("email", "bob@x.io")]
    assert d.moves == [Key("anonymous_id", "laptop"), Key("fbp", "fb.1")]


def test_decide_shared_laptop_back_to_first_shopper_moves_device_back():
    owners, views = graph(
        (1, {"email": ["alice@x.io"]}),
        (2, {"email": ["bob@x.io"], "anonymous_id": ["laptop"]}),
    )
    d = run([Key("email", "alice@x.io"), Key("anonymous_id", "laptop")], owners, views)
    assert d.target == 1 and d.merges == []
    assert d.refused == [(2, "conflict")]
    assert d.moves == [Key("anonymous_id", "laptop")]


def test_decide_anonymous_event_on_shared_device_follows_device_owner():
    owners, views = graph((1, {"email": ["alice@x.io"], "anonymous_id": ["laptop"]}))
    d = run([Key("anonymous_id", "laptop")], owners, views)
    assert d.target == 1 and d.attach == [] and d.moves == [] and d.linked_by == "anonymous_id"


def test_decide_two_emails_from_two_profiles_never_merge_strong_links_stay():
    owners, views = graph(
        (1, {"email": ["a@x.io"], "phone": ["+1"]}),
        (2, {"email": ["b@x.io"], "phone": ["+2"]}),
    )
    d = run([Key("email", "a@x.io"), Key("phone", "+2")], owners, views)
    assert d.target == 1 and d.merges == [] and d.refused == [(2, "conflict")]
    assert d.moves == []  # a strong identifier is never moved


def test_decide_new_email_with_known_customer_id_is_added_to_that_profile():
    owners, views = graph((1, {"email": ["old@x.io"], "shopify_customer_id": ["42"]}))
    d = run([Key("email", "new@x.io"), Key("shopify_customer_id", "42")], owners, views)
    assert d.target == 1 and d.attach == [Key("email", "new@x.io")] and d.dropped == []


def test_decide_profile_at_email_limit_drops_the_extra_email():
    emails = [f"e{i}@x.io" for i in range(5)]
    owners, views = graph((1, {"email": emails, "shopify_customer_id": ["42"]}))
    d = run([Key("email", "sixth@x.io"), Key("shopify_customer_id", "42")], owners, views)
    assert d.target == 1
    assert d.dropped == [Key("email", "sixth@x.io")] and d.attach == []


def test_decide_merge_that_breaks_a_limit_is_refused():
    limits = {**LIMITS, "anonymous_id": 3}
    owners, views = graph(
        (1, {"anonymous_id": ["a1", "a2"], "gclid": ["g"]}),
        (2, {"anonymous_id": ["b1", "b2"]}),
    )
    owners[Key("gclid", "g")] = Owner(1, NOW, first_seen=NOW - timedelta(minutes=5), hint=IN_APP)
    d = decide(
        [Key("anonymous_id", "b1"), Key("gclid", "g")],
        owners,
        views,
        at=NOW,
        click_window=WINDOW,
        limits=limits,
        hint=BROWSER,
    )  # a corroborated handoff, so only the limit stands in the way
    assert d.target == 2  # the device owner leads
    assert d.merges == [] and d.refused == [(1, "limit")]
    assert d.moves == [Key("gclid", "g")]


def test_decide_click_id_on_two_cookies_without_corroboration_is_shared_and_links_nothing():
    """Was: linked them within the 30-day window (issue 12, trap 3: a click id is evidence, not identity)."""
    owners, views = graph((1, {"anonymous_id": ["cookie-a"], "gclid": ["G1"]}), seen=NOW - timedelta(days=29))
    d = run([Key("anonymous_id", "cookie-b"), Key("gclid", "G1")], owners, views)
    assert d.target is None and d.merges == [] and d.attach == [Key("anonymous_id", "cookie-b")]
    assert d.shared == [Key("gclid", "G1")] and d.ignored == [(Key("gclid", "G1"), "uncorroborated_click", 1)]


def _click_graph(hint, *, first_seen=NOW - timedelta(minutes=5), shared=False):
    owners, views = graph((1, {"anonymous_id": ["in-app"], "fbclid": ["F"]}))
    owners[Key("fbclid", "F")] = Owner(1, first_seen, shared=shared, first_seen=first_seen, hint=hint)
    return owners, views


def _decide_click(owners, views, hint):
    keys = [Key("anonymous_id", "safari"), Key("fbclid", "F")]
    return decide(keys, owners, views, at=NOW, click_window=WINDOW, limits=LIMITS, hint=hint)


def test_decide_click_id_handoff_from_in_app_browser_links_the_phone_browser():
    d = _decide_click(*_click_graph(IN_APP), BROWSER)
    assert d.target == 1 and d.attach == [Key("anonymous_id", "safari")] and d.handoff == [Key("fbclid", "F")]
    assert d.linked_by == "fbclid" and d.shared == []


@pytest.mark.parametrize(
    ("first", "second", "first_seen"),
    [
        (IN_APP, "b:ios:other-net", NOW - timedelta(minutes=5)),  # another network
        (IN_APP, "b:android:net1", NOW - timedelta(minutes=5)),  # another OS family
        (IN_APP, BROWSER, NOW - timedelta(minutes=6)),  # outside the 5-minute handoff window
        (BROWSER, BROWSER, NOW - timedelta(minutes=5)),  # not from an in-app browser: a forwarded link
        ("", BROWSER, NOW - timedelta(minutes=5)),  # no hint recorded
        (IN_APP, "", NOW - timedelta(minutes=5)),
    ],
)
def test_decide_click_id_not_corroborated_is_shared_and_links_nothing(first, second, first_seen):
    d = _decide_click(*_click_graph(first, first_seen=first_seen), second)
    assert d.target is None and d.merges == [] and d.shared == [Key("fbclid", "F")]
    assert d.attach == [Key("anonymous_id", "safari")]


def test_decide_shared_click_id_links_nothing_even_when_corroborated():
    d = _decide_click(*_click_graph(IN_APP, shared=True), BROWSER)
    assert d.target is None and d.shared == [] and d.ignored == [(Key("fbclid", "F"), "shared_click", 1)]


def test_decide_click_id_seen_again_with_its_own_browser_links_without_corroboration():
    owners, views = _click_graph(BROWSER)
    d = decide(
        [Key("anonymous_id", "in-app"), Key("fbclid", "F")],
        owners,
        views,
        at=NOW,
        click_window=WINDOW,
        limits=LIMITS,
        hint="b:windows:else",
    )
    assert d.target == 1 and d.shared == [] and d.ignored == []


def test_decide_shared_device_links_within_the_session_only():
    owners, views = graph((1, {"anonymous_id": ["laptop"], "email": ["bob@acme.io"]}))
    owners[Key("anonymous_id", "laptop")] = Owner(1, NOW - timedelta(minutes=20), shared=True)
    within = run([Key("anonymous_id", "laptop")], owners, views)
    assert within.target == 1 and within.linked_by == "anonymous_id"
    owners[Key("anonymous_id", "laptop")] = Owner(1, NOW - timedelta(minutes=31), shared=True)
    later = run([Key("anonymous_id", "laptop")], owners, views)
    assert later.target is None and later.moves == [Key("anonymous_id", "laptop")]
    assert later.new_session == [Key("anonymous_id", "laptop")]


def test_decide_device_identified_by_a_second_person_becomes_shared():
    owners, views = graph((1, {"anonymous_id": ["laptop"], "email": ["alice@acme.io"]}))
    d = run([Key("email", "bob@acme.io"), Key("anonymous_id", "laptop")], owners, views)
    assert d.target is None and d.refused == [(1, "conflict")]
    assert d.shared == [Key("anonymous_id", "laptop")] and d.moves == [Key("anonymous_id", "laptop")]


def test_decide_click_id_shared_by_two_cookies_outside_window_does_not_link():
    owners, views = graph((1, {"anonymous_id": ["cookie-a"], "gclid": ["G1"]}), seen=NOW - timedelta(days=31))
    d = run([Key("anonymous_id", "cookie-b"), Key("gclid", "G1")], owners, views)
    assert d.target is None and d.merges == []
    assert d.attach == [Key("anonymous_id", "cookie-b")]
    assert d.moves == [Key("gclid", "G1")]  # the expired click id is re-pointed to the new visitor


def test_decide_click_window_applies_to_out_of_order_events_too():
    owners, views = graph((1, {"gclid": ["G1"]}), seen=NOW + timedelta(days=40))
    d = run([Key("gclid", "G1")], owners, views)
    assert d.target is None and d.moves == [Key("gclid", "G1")]


def test_decide_device_ids_are_not_windowed():
    owners, views = graph((1, {"anonymous_id": ["cookie-a"]}), seen=NOW - timedelta(days=400))
    d = run([Key("anonymous_id", "cookie-a")], owners, views)
    assert d.target == 1


def test_decide_three_anonymous_profiles_merge_into_oldest():
    owners, views = graph((3, {"anonymous_id": ["a"]}), (1, {"client_id": ["c"]}), (2, {"fbp": ["f"]}))
    d = run([Key("anonymous_id", "a"), Key("client_id", "c"), Key("fbp", "f")], owners, views)
    assert d.target == 1
    assert sorted(d.merges) == [(2, Key("fbp", "f")), (3, Key("anonymous_id", "a"))]


def test_decide_conflicting_profiles_later_in_order_are_checked_against_the_group():
    # Email owner (1) leads; 2 (no email) joins and brings phone +2; 3 has a different phone: refused.
    owners, views = graph(
        (1, {"email": ["a@x.io"]}),
        (2, {"anonymous_id": ["a"], "phone": ["+2"]}),
        (3, {"client_id": ["c"], "phone": ["+3"]}),
    )
    d = run([Key("email", "a@x.io"), Key("anonymous_id", "a"), Key("client_id", "c")], owners, views)
    assert d.target == 1 and d.merges == [(2, Key("anonymous_id", "a"))]
    assert d.refused == [(3, "conflict")] and d.moves == [Key("client_id", "c")]
