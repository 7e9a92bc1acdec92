"""Backup abandonment flows against the semantic Klaviyo double (tests/fakes/klaviyo_flows.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import responses

from destinations.models import BackupFlow
from destinations.services.flows import FlowProvisioningError, provision_backup_flows, refresh_backup_flow_reports
from tests.destinations.conftest import KLAVIYO_KEY, DestinationFactory
from tests.fakes.core import mount
from tests.fakes.klaviyo import KlaviyoDouble
from tests.fakes.klaviyo_flows import KlaviyoFlows

pytestmark = pytest.mark.django_db
SUFFIX = " - Recapture"


@pytest.fixture
def klaviyo():
    return KlaviyoDouble(api_key=KLAVIYO_KEY)


@pytest.fixture
def double(klaviyo):
    """The merchant's Klaviyo account: the Klaviyo double with its flows, metrics and reports."""
    flows = KlaviyoFlows(klaviyo, metrics_page_size=3)  # small pages: the client follows the cursor
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mount(rsps, klaviyo, "https://a.klaviyo.com")
        yield flows


def sent(klaviyo: KlaviyoDouble, method: str | None = None, path: str | None = None) -> list:
    return [r for r in klaviyo.log if (method is None or r.method == method) and (path is None or r.path == path)]


@pytest.fixture
def destination(merchant):
    return DestinationFactory(merchant=merchant, kind="klaviyo", api_key=KLAVIYO_KEY, metric_suffix=SUFFIX)


@pytest.fixture
def shop_account(double):
    """A Shopify store's Klaviyo: native metrics and the merchant's own live abandonment flows."""
    ids = {name: double.add_metric(name, "Shopify") for name in ("Checkout Started", "Placed Order")}
    ids["Viewed Product"] = double.add_metric("Viewed Product", "Klaviyo")
    ids["Added to Cart"] = double.add_metric("Added to Cart", "Klaviyo")
    ids["Received Email"] = double.add_metric("Received Email", "Klaviyo")
    for name in ("Viewed Product", "Added to Cart", "Placed Order", "Started Checkout"):
        double.add_metric(name + SUFFIX)  # Recapture has been delivering for a while
    ids["native_checkout"] = double.add_flow("Abandoned Checkout", metric_id=ids["Checkout Started"])
    ids["native_browse"] = double.add_flow("Browse Abandonment", metric_id=ids["Viewed Product"])
    return ids


def created_flows(double: KlaviyoFlows) -> dict[str, dict]:
    return {fid: f for fid, f in double.flows.items() if f["name"].startswith("Recapture backup")}


def test_provision_backup_flows_creates_three_draft_flows_on_our_metrics(double, destination, shop_account):
    report = provision_backup_flows(destination)

    assert [line.outcome for line in report.lines] == ["created", "created", "created"]
    flows = created_flows(double)
    assert sorted(f["name"] for f in flows.values()) == [
        f"Recapture backup: {t}{SUFFIX}" for t in ("Abandoned Cart", "Abandoned Checkout", "Browse Abandonment")
    ]
    by_name = {f["name"]: f["definition"] for f in flows.values()}
    checkout = by_name[f"Recapture backup: Abandoned Checkout{SUFFIX}"]
    assert checkout["triggers"] == [{"type": "metric", "id": double.metric_id("Started Checkout" + SUFFIX)}]
    conditions = [g["conditions"][0] for g in checkout["profile_filter"]["condition_groups"]]
    # nobody who ordered since entering (Shopify's and Recapture's Placed Order) ...
    assert {c["metric_id"] for c in conditions if c["timeframe_filter"]["operator"] == "flow-start"} == {
        shop_account["Placed Order"],
        double.metric_id("Placed Order" + SUFFIX),
    }
    # ... and nobody the merchant's own checkout flow emailed in the last 7 days
    (native,) = [c for c in conditions if c["metric_id"] == shop_account["Received Email"]]
    assert native["metric_filters"][0]["filter"]["value"] == shop_account["native_checkout"]
    assert native["timeframe_filter"] == {"type": "date", "operator": "in-the-last", "unit": "day", "quantity": 7}
    assert checkout["reentry_criteria"] == {"duration": 7, "unit": "day"}
    # every flow and every email is a draft: an event of our metric emails nobody
    assert {f["status"] for f in flows.values()} == {"draft"}
    assert double.klaviyo.flows.get("Started Checkout" + SUFFIX, []) == []
    assert BackupFlow.objects.filter(destination=destination).exclude(remote_flow_id="").count() == 3


def test_provision_backup_flows_email_has_utm_and_an_event_template(double, destination, shop_account):
    provision_backup_flows(destination)

    flow = next(f for f in created_flows(double).values() if "Abandoned Cart" in f["name"])
    delay, email = flow["definition"]["actions"]
    assert delay["type"] == "time-delay" and delay["links"]["next"] == email["id"]
    message = email["data"]["message"]
    assert email["data"]["status"] == "draft"
    assert message["add_tracking_params"] is True
    assert {p["param"]: p["value"] for p in message["custom_tracking_params"]} == {
        "utm_source": "klaviyo",
        "utm_medium": "email",
        "utm_campaign": "recapture-backup-abandoned-cart",
    }
    html = double.templates[message["template_id"]]["html"]
    assert "{{ event.ProductName" in html and "{{ event.ImageURL }}" in html


def test_provision_backup_flows_again_creates_nothing_and_reports_what_exists(double, destination, shop_account):
    provision_backup_flows(destination)
    flows_before, templates_before = dict(double.flows), dict(double.templates)

    again = provision_backup_flows(destination)

    assert [line.outcome for line in again.lines] == ["exists", "exists", "exists"]
    assert all("exists (draft)" in line.message for line in again.lines)
    assert double.flows.keys() == flows_before.keys() and double.templates.keys() == templates_before.keys()
    assert not [r for r in double.klaviyo.log if r.method == "PATCH" or r.path == "/api/events"]
    assert BackupFlow.objects.filter(destination=destination).count() == 3


def test_provision_backup_flows_adopts_a_flow_of_the_same_name_instead_of_duplicating(
    double, destination, shop_account
):
    provision_backup_flows(destination)
    BackupFlow.objects.all().delete()  # our own records lost (restored database, new destination row)

    again = provision_backup_flows(destination)

    assert [line.outcome for line in again.lines] == ["exists", "exists", "exists"]
    assert len(created_flows(double)) == 3
    assert set(BackupFlow.objects.values_list("remote_flow_id", flat=True)) == set(created_flows(double))


def test_provision_backup_flows_reports_differences_and_never_turns_anything_live(double, destination, shop_account):
    provision_backup_flows(destination)
    flow_id, flow = next((k, f) for k, f in created_flows(double).items() if "Browse" in f["name"])
    double.set_status(flow_id, "live", emails="live")  # the merchant switched it on in Klaviyo
    flow["definition"]["actions"][0]["data"]["value"] = 6  # and changed the delay
    double.add_flow("Added to Cart flow", metric_id=shop_account["Added to Cart"])  # a new native flow

    lines = {line.kind: line for line in provision_backup_flows(destination).lines}

    assert lines["browse_abandonment"].outcome == "differs"
    assert "time delay" in lines["browse_abandonment"].message
    assert "exists (live)" in lines["browse_abandonment"].message
    assert "not in draft" in lines["browse_abandonment"].message
    assert lines["abandoned_cart"].outcome == "differs" and "flow filter" in lines["abandoned_cart"].message
    assert double.flows[flow_id]["definition"]["actions"][0]["data"]["value"] == 6  # left as the merchant made it
    assert not sent(double.klaviyo, "PATCH")
    # the live one now emails whoever triggers our metric; that was the merchant's decision
    assert double.klaviyo.flows["Viewed Product" + SUFFIX] == [flow["name"]]


def test_provision_backup_flows_dry_run_sends_no_write_and_shows_every_body(double, destination, shop_account):
    report = provision_backup_flows(destination, dry_run=True)

    assert [line.outcome for line in report.lines] == ["planned", "planned", "planned"]
    assert created_flows(double) == {} and double.templates == {}
    assert [r.step for r in report.planned] == ["template-create", "flow-create"] * 3
    assert all(r.json for r in report.planned)
    assert not BackupFlow.objects.exists()
    assert {r.method for r in double.klaviyo.log} == {"GET"}


def test_provision_backup_flows_creates_a_missing_metric_with_one_internal_event(double, destination):
    double.add_metric("Placed Order", "Shopify")

    report = provision_backup_flows(destination)

    events = double.klaviyo.recorded()
    assert {e.metric for e in events} == {
        "Viewed Product" + SUFFIX,
        "Added to Cart" + SUFFIX,
        "Started Checkout" + SUFFIX,
    }
    (seed,) = {e.profile_id for e in events}
    profile = double.klaviyo.profiles[seed]  # nobody to email: no email address, no phone number
    assert (profile.email, profile.phone_number) == (None, None)
    assert profile.external_id == f"recapture-internal-metric-seed-{destination.pk}"
    assert all(e.properties["RecaptureInternal"] is True and e.backfill for e in events)
    assert double.klaviyo.triggers == []  # recorded, but it triggers no flow
    assert [line.outcome for line in report.lines] == ["created", "created", "created"]
    assert any("was missing" in note for note in report.notes)
    assert any("No Received Email metric" in note for note in report.notes)


def test_provision_backup_flows_can_clone_the_native_flow(double, destination, shop_account):
    report = provision_backup_flows(destination, clone_native=True)

    lines = {line.kind: line for line in report.lines}
    assert "cloned" not in lines["abandoned_cart"].message  # no native cart flow: Recapture's definition
    row = BackupFlow.objects.get(destination=destination, kind="abandoned_checkout")
    assert row.cloned_from == shop_account["native_checkout"]
    clone = double.flows[row.remote_flow_id]["definition"]
    native = double.flows[shop_account["native_checkout"]]["definition"]
    assert clone["triggers"] == [{"type": "metric", "id": double.metric_id("Started Checkout" + SUFFIX)}]
    assert [a["type"] for a in clone["actions"]] == [a["type"] for a in native["actions"]]
    assert {a["id"] for a in clone["actions"]}.isdisjoint({a["id"] for a in native["actions"]})
    assert [a["data"]["status"] for a in clone["actions"] if a["type"] == "send-email"] == ["draft"]
    assert double.flows[shop_account["native_checkout"]]["status"] == "live"  # the original is untouched

    assert [line.outcome for line in provision_backup_flows(destination, clone_native=True).lines] == ["exists"] * 3


def test_provision_backup_flows_names_the_missing_scope(double, destination, shop_account):
    double.klaviyo.scopes.discard("templates:write")

    report = provision_backup_flows(destination)

    assert report.lines[-1].outcome == "failed"
    assert "HTTP 403" in report.lines[-1].message and "templates:write" in report.lines[-1].message
    assert created_flows(double) == {}


def test_provision_backup_flows_refuses_a_loops_destination(merchant):
    loops = DestinationFactory(merchant=merchant, kind="loops")
    with pytest.raises(FlowProvisioningError, match="Klaviyo feature"):
        provision_backup_flows(loops)


def test_refresh_backup_flow_reports_stores_recipients_conversions_revenue(double, destination, shop_account):
    provision_backup_flows(destination)
    ids = {row.kind: row.remote_flow_id for row in BackupFlow.objects.filter(destination=destination)}
    double.record_sends(ids["abandoned_checkout"], recipients=120, conversions=9, value=810.5)
    double.record_sends(ids["abandoned_checkout"], recipients=30, conversions=1, value=40.0)
    double.record_sends(ids["abandoned_cart"], recipients=80, conversions=4, value=200.25)
    double.record_sends(shop_account["native_checkout"], recipients=999, conversions=99, value=9999.0)

    assert refresh_backup_flow_reports(destination) == 3

    rows = {r.kind: r for r in BackupFlow.objects.filter(destination=destination)}
    assert (rows["abandoned_checkout"].recipients, rows["abandoned_checkout"].conversions) == (150, 10)
    assert rows["abandoned_checkout"].revenue == Decimal("850.50")
    assert (rows["abandoned_cart"].recipients, rows["abandoned_cart"].revenue) == (80, Decimal("200.25"))
    assert rows["browse_abandonment"].recipients == 0 and rows["browse_abandonment"].reported_at is not None
    (report,) = sent(double.klaviyo, "POST", "/api/flow-values-reports")
    report_body = report.body
    assert report_body["data"]["attributes"]["conversion_metric_id"] == shop_account["Placed Order"]


def test_refresh_backup_flow_reports_throttled_is_a_clear_error(double, destination, shop_account):
    provision_backup_flows(destination)
    now = double.klaviyo.clock()
    double.report_times = [now, now]  # the steady limit (2/m) is used up

    with pytest.raises(FlowProvisioningError, match="429"):
        refresh_backup_flow_reports(destination)


def test_provision_backup_flows_stops_before_any_write_when_the_test_finds_a_missing_scope(double, destination):
    double.klaviyo.scopes.discard("flows:read")  # a delivery-only key: "No access" to flows

    report = provision_backup_flows(destination)

    (line,) = report.lines
    assert line.outcome == "failed"
    assert "Missing scopes: flows (flows:read, flows:write); reports (flows:read)" in line.message
    assert {r.method for r in double.klaviyo.log} == {"GET"} and double.flows == {}


def test_provision_backup_flows_reports_the_scope_check(double, destination, shop_account):
    report = provision_backup_flows(destination)
    assert report.notes[0].startswith("Scopes: flows ok, metrics ok, reports ok.")
    assert "flows:write" in report.notes[0]  # a write scope cannot be proven without writing


def test_daily_schedule_refreshes_every_klaviyo_destination_with_backup_flows(
    double, destination, shop_account, django_capture_on_commit_callbacks
):
    from destinations import tasks

    provision_backup_flows(destination)
    row = BackupFlow.objects.get(destination=destination, kind="abandoned_cart")
    double.record_sends(row.remote_flow_id, recipients=7, conversions=2, value=90.0)
    DestinationFactory(merchant=destination.merchant, kind="klaviyo")  # no backup flows: no report call

    with django_capture_on_commit_callbacks(execute=True) as queued:
        tasks.schedule_backup_flow_reports()  # Q_SYNC: the queued task runs on commit

    assert len(queued) == 1

    row.refresh_from_db()
    assert (row.recipients, row.conversions, row.revenue) == (7, 2, Decimal("90.00"))
    assert len(sent(double.klaviyo, "POST", "/api/flow-values-reports")) == 1


def test_refresh_task_logs_a_refused_report_and_ignores_a_deleted_destination(
    double, destination, shop_account, caplog
):
    from destinations import tasks

    provision_backup_flows(destination)
    double.klaviyo.scopes.discard("flows:read")

    tasks.refresh_backup_flow_reports(destination.pk)  # no exception: the next day tries again
    tasks.refresh_backup_flow_reports(999_999)

    assert "backup flow report for destination" in caplog.text and "flows:read" in caplog.text


def test_provision_backup_flows_on_a_dry_run_destination_only_plans(double, destination, shop_account):
    destination.dry_run = True
    destination.save(update_fields=["dry_run"])

    report = provision_backup_flows(destination)

    assert [line.outcome for line in report.lines] == ["planned"] * 3
    assert created_flows(double) == {} and not BackupFlow.objects.exists()
    assert any("dry-run mode" in note for note in report.notes)
