import json
from datetime import UTC, datetime
from io import StringIO
from urllib.parse import urlencode

import pytest
import responses
from django.core.management import CommandError, call_command
from responses import matchers

from events.models import Event
from returns.client import LoopReturnsClient, windows
from returns.exceptions import LoopApiError
from returns.models import LoopReturn
from tests.returns.conftest import FIXTURES

pytestmark = pytest.mark.django_db

LIST_URL = "https://api.loopreturns.com/api/v1/warehouse/return/list"
EXPORT = FIXTURES / "returns_export.jsonl"


def _run(*args) -> dict:
    out = StringIO()
    call_command("backfill_returns", *map(str, args), stdout=out)
    return json.loads(out.getvalue())


def test_backfill_returns_file_twice_records_no_duplicates(merchant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = _run(merchant.id, "--file", EXPORT)
    assert first == {
        "merchant_id": merchant.id,
        "returns_read": 3,
        "returns_skipped": 0,
        "events_built": 5,
        "events_recorded": 5,
        "events_duplicate": 0,
        "skipped_reasons": [],
    }
    with django_capture_on_commit_callbacks(execute=True):
        second = _run(merchant.id, "--file", EXPORT)
    assert (second["events_built"], second["events_recorded"], second["events_duplicate"]) == (5, 0, 5)
    rows = sorted(Event.objects.filter(merchant=merchant).values_list("event_id", "type", "timestamp"))
    assert rows == [
        ("loop:501:return.created", "Return Created", datetime(2026, 9, 1, 10, tzinfo=UTC)),
        ("loop:502:return.closed", "Return Closed", datetime(2026, 9, 10, 12, tzinfo=UTC)),
        ("loop:502:return.created", "Return Created", datetime(2026, 9, 3, 8, tzinfo=UTC)),
        ("loop:503:return.created", "Return Created", datetime(2026, 9, 5, 8, tzinfo=UTC)),
        ("loop:503:return.updated:cancelled", "Return Cancelled", datetime(2026, 9, 6, 8, tzinfo=UTC)),
    ]
    bob = Event.objects.get(event_id="loop:502:return.closed")
    assert bob.source == "returns"
    assert bob.identifiers == {"email": "bob@example.com"}
    assert (bob.properties["$value"], bob.properties["Currency"], bob.properties["Outcome"]) == (
        45,
        "EUR",
        "refund + exchange",
    )
    assert LoopReturn.objects.filter(merchant=merchant).count() == 3


def test_backfill_returns_then_live_webhook_does_not_double_count(merchant, post_loop, tmp_path):
    """Backfill and webhook derive the same event ids, so a webhook after a backfill adds nothing."""
    from tests.returns.conftest import fixture_bytes, fixture_json

    created = fixture_json("return_created.json")
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(created) + "\n")
    _run(merchant.id, "--file", path)
    post_loop(fixture_bytes("return_created.json"))
    assert list(Event.objects.filter(merchant=merchant).values_list("event_id", flat=True)) == [
        "loop:1673:return.created"
    ]


def test_backfill_returns_skips_bad_lines(merchant, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"state": "open"}\nnot json\n[1, 2]\n')
    summary = _run(merchant.id, "--file", path)
    assert (summary["returns_read"], summary["returns_skipped"], summary["events_recorded"]) == (3, 3, 0)
    assert len(summary["skipped_reasons"]) == 3


def test_backfill_returns_unknown_merchant_and_missing_file(merchant, tmp_path):
    with pytest.raises(CommandError, match="no merchant"):
        _run(999999, "--file", EXPORT)
    with pytest.raises(CommandError, match="no such file"):
        _run(merchant.id, "--file", tmp_path / "missing.jsonl")
    with pytest.raises(CommandError, match="needs --since and --api-key"):
        _run(merchant.id, "--from-loop-api")


def _page_matcher(params: dict[str, str]):
    return matchers.query_string_matcher(urlencode(params))


@responses.activate
def test_backfill_returns_from_loop_api_follows_pages(merchant):
    params = {
        "from": "2026-09-01 00:00:00",
        "to": "2026-09-30 00:00:00",
        "filter": "created_at",
        "paginate": "true",
        "pageSize": "250",
    }
    export = [json.loads(line) for line in EXPORT.read_text().splitlines() if line.strip()]
    next_url = LIST_URL + "?cursor=abc"
    headers = matchers.header_matcher({"X-Authorization": "loop-key-1", "Accept": "application/json"})
    responses.get(
        LIST_URL,
        match=[_page_matcher(params), headers],
        json={"returns": export[:2], "nextPageUrl": next_url, "previousPageUrl": None},
    )
    responses.get(
        next_url,
        match=[matchers.query_string_matcher("cursor=abc"), headers],
        json={"returns": export[2:], "nextPageUrl": None, "previousPageUrl": LIST_URL},
    )
    summary = _run(
        merchant.id, "--from-loop-api", "--since", "2026-09-01", "--until", "2026-09-30", "--api-key", "loop-key-1"
    )
    assert (summary["returns_read"], summary["events_recorded"]) == (3, 5)
    assert len(responses.calls) == 2
    summary = _run(
        merchant.id, "--from-loop-api", "--since", "2026-09-01", "--until", "2026-09-30", "--api-key", "loop-key-1"
    )
    assert (summary["events_recorded"], summary["events_duplicate"]) == (0, 5)


@responses.activate
def test_loop_client_401_is_an_error_without_the_key():
    responses.get(LIST_URL, status=401, json={"message": "Unauthorized"})
    client = LoopReturnsClient(api_key="secret-key-xyz")
    with pytest.raises(LoopApiError, match="401") as excinfo:
        list(client.iter_returns(since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 1, 2, tzinfo=UTC)))
    assert "secret-key-xyz" not in str(excinfo.value)


@responses.activate
def test_loop_client_refuses_next_page_on_another_host():
    responses.get(LIST_URL, json={"returns": [], "nextPageUrl": "https://evil.example/steal"})
    client = LoopReturnsClient(api_key="k")
    with pytest.raises(LoopApiError, match="another host"):
        list(client.iter_returns(since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 1, 2, tzinfo=UTC)))
    assert len(responses.calls) == 1


@responses.activate
def test_loop_client_command_reports_api_errors(merchant):
    responses.get(LIST_URL, status=500, body="boom")
    with pytest.raises(CommandError, match="500"):
        _run(merchant.id, "--from-loop-api", "--since", "2026-09-01", "--until", "2026-09-02", "--api-key", "k")


def test_windows_split_ranges_at_120_days():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    spans = windows(start, datetime(2026, 12, 31, tzinfo=UTC))
    assert len(spans) == 4  # 364 days
    assert spans[0] == (start, datetime(2026, 5, 1, tzinfo=UTC))
    assert spans[-1][1] == datetime(2026, 12, 31, tzinfo=UTC)
    assert all(b - a <= (spans[0][1] - spans[0][0]) for a, b in spans)
    assert windows(start, start) == []


def test_set_loop_webhook_secret_command_then_webhook_verifies(merchant, post_loop):
    from tests.returns.conftest import fixture_bytes

    out = StringIO()
    call_command("set_loop_webhook_secret", str(merchant.id), "--secret", " loop-secret-123 ", stdout=out)
    assert json.loads(out.getvalue())["secret_set"] is True
    merchant.refresh_from_db()
    assert merchant.returns_webhook_secret == "loop-secret-123"
    assert post_loop(fixture_bytes("return_created.json"), secret="loop-secret-123").status_code == 200
    with pytest.raises(CommandError, match="cannot be empty"):
        call_command("set_loop_webhook_secret", str(merchant.id), "--secret", "  ")


def test_backfill_releases_labels_waiting_for_their_return(merchant, post_loop, tmp_path):
    from returns.models import LoopWebhook
    from tests.returns.conftest import fixture_bytes, fixture_json

    post_loop(fixture_bytes("label_created.json"))
    assert LoopWebhook.objects.get().state == "waiting"
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(fixture_json("return_created.json")) + "\n")
    _run(merchant.id, "--file", path)
    assert LoopWebhook.objects.get().state == "processed"
    assert sorted(Event.objects.values_list("type", flat=True)) == ["Return Created", "Return Label Created"]
