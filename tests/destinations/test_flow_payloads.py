"""Backup flow payload builders: every body validates against the stable Klaviyo spec."""

from __future__ import annotations

import jsonschema
import pytest

from destinations.clients import klaviyo_flows as kf
from tests.destinations.contract import validate_klaviyo_request
from tests.fakes.core import Call
from tests.fakes.klaviyo import KlaviyoDouble
from tests.fakes.klaviyo_flows import KlaviyoFlows

HEADERS = {"Authorization": "Klaviyo-API-Key k", "revision": "2026-07-15"}
INPUTS = kf.FlowInputs("MTRIG", "TPL1", ("PO1", "PO2"), "RE1", ("NAT1", "NAT2"))


@pytest.mark.parametrize("kind", list(kf.FlowKind))
def test_backup_flow_body_validates_against_the_flows_spec(kind):
    spec = kf.SPECS[kind]
    validate_klaviyo_request("/api/flows", "post", kf.flow_body(spec.name, kf.backup_flow_definition(spec, INPUTS)))
    validate_klaviyo_request("/api/templates", "post", kf.template_body(spec))


def test_backup_flow_definition_without_filters_leaves_the_nullable_filter_out():
    definition = kf.backup_flow_definition(kf.SPECS[kf.FlowKind.BROWSE], kf.FlowInputs("M", "T"))
    assert "profile_filter" not in definition
    validate_klaviyo_request("/api/flows", "post", kf.flow_body("x", definition))


def test_exclusion_groups_one_condition_per_group_so_all_must_hold():
    groups = kf.exclusion_groups(INPUTS)
    assert [len(g["conditions"]) for g in groups] == [1, 1, 1, 1]
    flows = [g["conditions"][0]["metric_filters"][0]["filter"]["value"] for g in groups[2:]]
    assert flows == ["NAT1", "NAT2"]


def test_exclusion_groups_without_received_email_metric_skip_the_native_exclusion():
    groups = kf.exclusion_groups(kf.FlowInputs("M", "T", ("PO1",), "", ("NAT1",)))
    assert [g["conditions"][0]["metric_id"] for g in groups] == ["PO1"]


def test_seed_event_and_report_bodies_validate():
    validate_klaviyo_request(
        "/api/events", "post", kf.seed_event_body("X", time="2026-12-01T00:00:00.000Z", destination_id=1)
    )
    body = kf.flow_values_body(["F1", "F2"], conversion_metric_id="PO1")
    validate_klaviyo_request("/api/flow-values-reports", "post", body)
    assert body["data"]["attributes"]["filter"] == 'contains-any(flow_id,["F1","F2"])'


def test_seed_event_profile_cannot_be_messaged():
    attributes = kf.seed_event_body("X", time="t", destination_id=7)["data"]["attributes"]
    assert attributes["profile"]["data"]["attributes"] == {"external_id": "recapture-internal-metric-seed-7"}
    assert attributes["backfill"] is True  # "recorded but does NOT trigger flows"


def test_cloned_definition_renames_ids_swaps_trigger_and_drafts_messages():
    native = {
        "triggers": [
            {
                "type": "metric",
                "id": "NATM",
                "trigger_filter": {
                    "condition_groups": [
                        {
                            "conditions": [
                                {
                                    "type": "metric-property",
                                    "metric_id": "NATM",
                                    "field": "ItemNames",
                                    "filter": {"type": "existence", "operator": "is-set"},
                                }
                            ]
                        }
                    ]
                },
            }
        ],
        "profile_filter": None,
        "actions": [
            {"id": "11", "type": "time-delay", "links": {"next": "12"}, "data": {"unit": "hours", "value": 4}},
            {
                "id": "12",
                "type": "conditional-split",
                "links": {"next_if_true": "13", "next_if_false": None},
                "data": {"profile_filter": {"condition_groups": [{"conditions": [kf.no_order_since_start("PO1")]}]}},
            },
            {
                "id": "13",
                "type": "send-email",
                "links": {"next": None},
                "data": {"status": "live", "message": {"id": "m1"}},
            },
        ],
        "entry_action_id": "11",
        "reentry_criteria": None,
    }
    clone = kf.cloned_definition(native, INPUTS, native_metric_id="NATM")

    validate_klaviyo_request("/api/flows", "post", kf.flow_body("clone", clone))
    assert [a["temporary_id"] for a in clone["actions"]] == ["action-0", "action-1", "action-2"]
    assert clone["entry_action_id"] == "action-0"
    assert clone["actions"][1]["links"] == {"next_if_true": "action-2", "next_if_false": None}
    assert clone["actions"][2]["data"] == {"status": "draft", "message": {}}
    trigger = clone["triggers"][0]
    assert trigger["id"] == "MTRIG"
    assert trigger["trigger_filter"]["condition_groups"][0]["conditions"][0]["metric_id"] == "MTRIG"
    assert clone["profile_filter"]["condition_groups"] == kf.exclusion_groups(INPUTS)
    assert native["actions"][2]["data"]["status"] == "live"  # the source is not modified


def test_differences_names_the_parts_that_changed():
    spec = kf.SPECS[kf.FlowKind.CART]
    wanted = kf.backup_flow_definition(spec, INPUTS)
    remote = kf.backup_flow_definition(spec, kf.FlowInputs("OTHER", "TPL1", ("PO1",), "RE1", ("NAT1", "NAT2")))
    assert kf.differences(wanted, wanted) == []
    assert kf.differences(wanted, remote) == ["trigger metric", "flow filter"]


def test_sum_flow_values_adds_messages_and_channels_per_flow():
    rows = [
        {"groupings": {"flow_id": "F1"}, "statistics": {"recipients": 10, "conversions": 1, "conversion_value": 5.5}},
        {"groupings": {"flow_id": "F1"}, "statistics": {"recipients": 4, "conversions": 0, "conversion_value": 0}},
        {"groupings": {"flow_id": "F2"}, "statistics": {"recipients": 3, "conversions": None}},
        {"groupings": {}, "statistics": {"recipients": 100}},
    ]
    totals = kf.sum_flow_values(rows)
    assert totals["F1"] == {"recipients": 14.0, "conversions": 1.0, "conversion_value": 5.5}
    assert totals["F2"]["recipients"] == 3.0 and set(totals) == {"F1", "F2"}


def test_double_refuses_a_body_that_breaks_the_spec():
    """The double is only useful if a drifting payload fails: a bad delay unit is a 400."""
    klaviyo = KlaviyoDouble()
    double = KlaviyoFlows(klaviyo)
    double.add_metric("M")
    definition = kf.backup_flow_definition(kf.SPECS[kf.FlowKind.CART], kf.FlowInputs(double.metric_id("M"), ""))
    definition["actions"][0]["data"]["unit"] = "fortnights"
    reply = klaviyo.handle(Call("POST", "/api/flows", {}, HEADERS, kf.flow_body("x", definition)))
    assert reply.status == 400 and "fortnights" in reply.body["errors"][0]["detail"]
    assert double.flows == {}
    with pytest.raises(jsonschema.ValidationError):
        validate_klaviyo_request("/api/flows", "post", kf.flow_body("x", definition))


def test_double_refuses_a_trigger_on_a_metric_that_does_not_exist():
    klaviyo = KlaviyoDouble()
    KlaviyoFlows(klaviyo)
    definition = kf.backup_flow_definition(kf.SPECS[kf.FlowKind.CART], kf.FlowInputs("NOPE", ""))
    reply = klaviyo.handle(Call("POST", "/api/flows", {}, HEADERS, kf.flow_body("x", definition)))
    assert reply.status == 400 and "does not exist" in reply.body["errors"][0]["detail"]
