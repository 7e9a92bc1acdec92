"""Property tests of identity.policy.decide: whatever the graph, two people are never merged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from identity.policy import STRONG_TYPES, Key, Owner, ProfileView, Tier, decide, tier_of

NOW = datetime(2026, 11, 1, tzinfo=UTC)
TYPES = ["email", "phone", "shopify_customer_id", "anonymous_id", "client_id", "gclid", "kx"]
KEYS = st.builds(Key, st.sampled_from(TYPES), st.sampled_from(["1", "2", "3"]))


@st.composite
def graphs(draw):
    keys = draw(st.sets(KEYS, max_size=12))
    owners, views = {}, {}
    for key in keys:
        pid = draw(st.integers(min_value=1, max_value=4))
        age_days = draw(st.integers(min_value=0, max_value=60))
        views.setdefault(pid, ProfileView(age=(pid,)))
        views[pid].identifiers.setdefault(key.type, set()).add(key.value)
        owners[key] = Owner(pid, NOW - timedelta(days=age_days))
    event_keys = sorted(draw(st.sets(KEYS, min_size=1, max_size=5)), key=lambda k: TYPES.index(k.type))
    return owners, views, event_keys


@settings(max_examples=300, deadline=None)
@given(graphs(), st.integers(min_value=1, max_value=3))
def test_decide_never_joins_two_holders_of_a_strong_type(graph, email_limit):
    owners, views, keys = graph
    d = decide(keys, owners, views, at=NOW, click_window=timedelta(days=30), limits={"email": email_limit})
    members = ([d.target] if d.target is not None else []) + [pid for pid, _ in d.merges]
    for kind in STRONG_TYPES:
        assert sum(1 for pid in members if views[pid].identifiers.get(kind)) <= 1
    if d.target is not None:
        assert d.target == min(members, key=lambda pid: views[pid].age)
    assert not d.merges or d.target is not None
    assert all(tier_of(k.type) is not Tier.STRONG for k in d.moves)
    assert all(k in keys for k in d.moves + d.attach + d.dropped)
    assert {pid for pid, _ in d.refused}.isdisjoint(members)
    merged_emails = set().union(*(views[pid].identifiers.get("email", set()) for pid in members))
    new_emails = {k.value for k in d.attach if k.type == "email"}
    assert len(merged_emails | new_emails) <= max(email_limit, len(merged_emails))
