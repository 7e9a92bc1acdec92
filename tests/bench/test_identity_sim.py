"""A small seeded run of the identity simulator: nobody is ever sent under another person's email."""

from __future__ import annotations

import pytest

from bench.identity_sim import simulate

pytestmark = pytest.mark.django_db


def test_identity_sim_small_seeded_run_sends_nothing_under_a_wrong_person(merchant):
    result = simulate(seed=7, households=25, days=2, merchant=merchant)
    assert result["safe_ceiling"] > 50  # the run exercises attribution at all
    assert result["wrong_person"] == 0, result["wrong_person_by_cause"]
    assert result["right_within_ceiling_pct"] >= 90
    assert result["right_identity"] > result["klaviyo_alone_right"]
