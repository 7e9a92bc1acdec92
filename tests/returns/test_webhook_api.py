import json

import pytest

from events.models import Event
from returns.models import LoopReturn, LoopWebhook
from returns.parsing import sign_body
from tests.factories import MerchantFactory
from tests.returns.conftest import fixture_bytes, fixture_json

pytestmark = pytest.mark.django_db


def _events(merchant):
    return list(Event.objects.filter(merchant=merchant).order_by("timestamp", "event_id"))


def test_loop_webhook_signed_return_created_is_stored_and_forwarded(post_loop, merchant):
    response = post_loop(fixture_bytes("return_created.json"))
    assert response.status_code == 200
    webhook = LoopWebhook.objects.get()
    assert response.json() == {"received": True, "duplicate": False, "id": webhook.id}
    assert (webhook.topic, webhook.trigger, webhook.return_id, webhook.state) == (
        "return",
        "return.created",
        "1673",
        "processed",
    )
    assert webhook.signature_valid is True
    assert webhook.body == fixture_bytes("return_created.json").decode()
    assert webhook.processed_at is not None
    [event] = _events(merchant)
    assert (event.type, event.event_id, event.source) == ("Return Created", "loop:1673:return.created", "returns")
    assert event.identifiers == {"email": "jane.doe@example.com"}
    assert event.properties["Outcome"] == "refund + exchange"
    assert event.properties["$value"] == 64.5
    assert event.raw["loop_webhook_id"] == webhook.id
    stored = LoopReturn.objects.get(merchant=merchant, return_id="1673")
    assert (stored.email, stored.state) == ("jane.doe@example.com", "open")


def test_loop_webhook_missing_signature_is_401_and_nothing_stored(post_loop):
    response = post_loop(fixture_bytes("return_created.json"), signature=None)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert LoopWebhook.objects.count() == 0
    assert Event.objects.count() == 0


def test_loop_webhook_wrong_secret_is_401(post_loop):
    response = post_loop(fixture_bytes("return_created.json"), secret="whsec_not_the_one")
    assert response.status_code == 401
    assert LoopWebhook.objects.count() == 0


def test_loop_webhook_tampered_body_is_401(post_loop, merchant):
    body = fixture_bytes("return_created.json")
    signature = sign_body(merchant.returns_webhook_secret, body)
    tampered = body.replace(b'"refund": "64.50"', b'"refund": "964.50"')
    assert tampered != body
    response = post_loop(tampered, signature=signature)
    assert response.status_code == 401
    assert LoopWebhook.objects.count() == 0


def test_loop_webhook_reserialised_json_is_401(post_loop, merchant):
    """The signature covers the raw bytes: the same JSON serialised differently must not verify."""
    body = fixture_bytes("return_created.json")
    compact = json.dumps(json.loads(body), separators=(",", ":")).encode()
    response = post_loop(body, signature=sign_body(merchant.returns_webhook_secret, compact))
    assert response.status_code == 401
    assert LoopWebhook.objects.count() == 0


def test_loop_webhook_unknown_token_is_404(post_loop):
    response = post_loop(fixture_bytes("return_created.json"), token="no-such-token")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert LoopWebhook.objects.count() == 0


def test_loop_webhook_other_merchants_secret_is_401(post_loop):
    other = MerchantFactory()
    response = post_loop(fixture_bytes("return_created.json"), secret=other.returns_webhook_secret)
    assert response.status_code == 401


def test_loop_webhook_inactive_merchant_is_404(post_loop, merchant):
    merchant.is_active = False
    merchant.save()
    assert post_loop(fixture_bytes("return_created.json")).status_code == 404


def test_loop_webhook_get_is_405(client, merchant):
    response = client.get(f"/api/v1/returns/loop/{merchant.returns_webhook_token}")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_loop_webhook_duplicate_delivery_is_recognised(post_loop, merchant):
    body = fixture_bytes("return_created.json")
    first = post_loop(body)
    second = post_loop(body)
    assert second.status_code == 200
    assert second.json() == {"received": True, "duplicate": True, "id": first.json()["id"]}
    assert LoopWebhook.objects.count() == 1
    assert Event.objects.filter(merchant=merchant).count() == 1


def test_loop_webhook_same_return_state_from_two_bodies_is_one_event(post_loop, merchant):
    """Loop retries may differ byte-wise (e.g. a new edited_at): the event id still dedupes."""
    payload = fixture_json("return_updated_cancelled.json")
    post_loop(json.dumps(payload))
    post_loop(json.dumps(payload | {"edited_at": "2026-11-03T09:31:00Z"}))
    assert LoopWebhook.objects.count() == 2
    assert [e.type for e in _events(merchant)] == ["Return Cancelled"]


def test_loop_webhook_cancelled_state_becomes_return_cancelled(post_loop, merchant):
    post_loop(fixture_bytes("return_created.json"))
    post_loop(fixture_bytes("return_updated_cancelled.json"))
    assert [(e.type, e.event_id) for e in _events(merchant)] == [
        ("Return Created", "loop:1673:return.created"),
        ("Return Cancelled", "loop:1673:return.updated:cancelled"),
    ]
    assert LoopReturn.objects.get(return_id="1673").state == "cancelled"


def test_loop_webhook_older_update_does_not_overwrite_the_stored_return(post_loop, merchant):
    post_loop(fixture_bytes("return_updated_cancelled.json"))
    post_loop(fixture_bytes("return_created.json"))  # arrives late, older
    assert LoopReturn.objects.get(return_id="1673").state == "cancelled"
    assert {e.type for e in _events(merchant)} == {"Return Created", "Return Cancelled"}


def test_loop_webhook_every_trigger(post_loop, merchant):
    for name in (
        "return_created.json",
        "label_created.json",
        "label_updated_delivered.json",
        "return_updated_cancelled.json",
        "return_closed.json",
        "giftcard_requested.json",
        "restock_requested.json",
        "unknown_topic.json",
    ):
        assert post_loop(fixture_bytes(name)).status_code == 200, name
    states = dict(LoopWebhook.objects.values_list("trigger", "state"))
    assert states == {
        "return.created": "processed",
        "label.created": "processed",
        "label.updated": "processed",
        "return.updated": "processed",
        "return.closed": "processed",
        "giftcard.requested": "processed",
        "restock.requested": "ignored",
        "shipment.processed": "ignored",
    }
    assert sorted(e.type for e in _events(merchant)) == [
        "Return Cancelled",
        "Return Closed",
        "Return Created",
        "Return Delivered",
        "Return Gift Card Requested",
        "Return Label Created",
        "Return Label Updated",
    ]
    gift = Event.objects.get(type="Return Gift Card Requested")
    assert gift.identifiers == {"email": "sam@example.org"}
    assert gift.properties["OrderName"] == "#1107"  # joined to the stored return 2044
    assert gift.properties["$value"] == 23.5


def test_loop_webhook_label_before_return_waits_then_forwards(post_loop, merchant):
    post_loop(fixture_bytes("label_created.json"))
    label = LoopWebhook.objects.get(trigger="label.created")
    assert label.state == "waiting"
    assert label.processed_at is None
    assert Event.objects.count() == 0

    post_loop(fixture_bytes("return_created.json"))
    label.refresh_from_db()
    assert label.state == "processed"
    assert [e.type for e in _events(merchant)] == ["Return Created", "Return Label Created"]
    label_event = Event.objects.get(type="Return Label Created")
    assert label_event.identifiers == {"email": "jane.doe@example.com"}
    assert label_event.properties["TrackingNumber"] == "9400111899223197428490"
    assert label_event.properties["Carrier"] == "USPS"


def test_loop_webhook_label_waits_per_merchant(post_loop, merchant):
    """A return with the same id at another merchant does not release this merchant's label."""
    from returns.services import upsert_loop_return

    upsert_loop_return(MerchantFactory(), payload=fixture_json("return_created.json"))
    post_loop(fixture_bytes("label_created.json"))
    assert LoopWebhook.objects.get().state == "waiting"


def test_loop_webhook_invalid_json_is_stored_as_failed(post_loop, merchant):
    response = post_loop(b"{not json")
    assert response.status_code == 200
    webhook = LoopWebhook.objects.get()
    assert (webhook.state, webhook.error) == ("failed", "The body is not a JSON object.")


def test_loop_webhook_return_without_id_fails_without_events(post_loop, merchant):
    payload = fixture_json("return_created.json")
    del payload["id"]
    post_loop(json.dumps(payload))
    webhook = LoopWebhook.objects.get()
    assert (webhook.state, webhook.error) == ("failed", "The return payload has no id.")
    assert Event.objects.count() == 0


def test_loop_webhook_items_take_variant_and_image_from_the_orders_purchase(post_loop, merchant):
    """Merchant-level: the Return Created event shows the variant and image the customer bought
    (the order's Purchase line item), not the ones of a product page the pixel saw later."""
    from tests.factories import EventFactory

    bought = {"SKU": "CAP-NVY", "VariantID": "41000000002", "ProductName": "Logo Cap"}
    bought |= {"VariantName": "Navy / OS", "ImageURL": "https://cdn/cap-navy.jpg"}
    EventFactory(merchant=merchant, type="Purchase", properties={"OrderID": "5840219373812", "Items": [bought]})
    EventFactory(
        merchant=merchant,
        type="ViewContent",
        properties={"SKU": "CAP-NVY", "ImageURL": "https://cdn/cap-red.jpg", "VariantTitle": "Red / OS"},
    )
    EventFactory(merchant=MerchantFactory(), type="Purchase", properties={"OrderID": "5840219373812", "Items": []})
    post_loop(fixture_bytes("return_created.json"))
    props = Event.objects.get(type="Return Created").properties
    cap = props["Items"][1]
    assert (cap["ImageURL"], cap["VariantTitle"]) == ("https://cdn/cap-navy.jpg", "Navy / OS")
    assert props["VariantTitles"] == ["Black / M", "Navy / OS"] and props["ParentReturnReasons"] == ["Size", "Quality"]


def test_loop_webhook_receive_query_count_is_constant(client, merchant, django_assert_max_num_queries):
    body = fixture_bytes("return_created.json")
    headers = {"HTTP_X_LOOP_SIGNATURE": sign_body(merchant.returns_webhook_secret, body)}
    url = f"/api/v1/returns/loop/{merchant.returns_webhook_token}"
    with django_assert_max_num_queries(4):  # merchant, savepoint, insert, release
        assert client.post(url, data=body, content_type="application/json", **headers).status_code == 200


def test_process_loop_webhook_queries_do_not_grow_with_items(merchant, django_assert_max_num_queries):
    """Product data for every item comes from one query (no N+1 over line items)."""
    from returns import services

    payload = fixture_json("return_created.json")
    item = payload["line_items"][1]
    payload["line_items"] = [item | {"sku": f"SKU-{n}", "variant_id": n} for n in range(40)]
    webhook = LoopWebhook.objects.create(
        merchant=merchant, body=json.dumps(payload), body_sha256="x" * 64, signature_valid=True
    )
    with django_assert_max_num_queries(16):
        services.process_loop_webhook(webhook)
    assert webhook.state == "processed"
    assert Event.objects.get().properties["ItemCount"] == 40


def test_reprocess_loop_webhook_after_a_failure(post_loop, merchant, monkeypatch, django_capture_on_commit_callbacks):
    from returns import mapping, services

    def boom(*args, **kwargs):
        raise RuntimeError("temporary failure")

    monkeypatch.setattr(mapping, "build_events", boom)
    post_loop(fixture_bytes("return_created.json"))
    webhook = LoopWebhook.objects.get()
    assert (webhook.state, webhook.error) == ("failed", "RuntimeError: temporary failure")
    assert Event.objects.count() == 0
    assert not LoopReturn.objects.exists()  # the failed step was rolled back as a whole

    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        services.reprocess_loop_webhook(webhook)
    webhook.refresh_from_db()
    assert (webhook.state, webhook.error) == ("processed", "")
    assert [e.type for e in _events(merchant)] == ["Return Created"]


def test_loop_webhook_json_array_body_is_failed(post_loop):
    assert post_loop(b"[1, 2]").status_code == 200
    assert LoopWebhook.objects.get().state == "failed"
