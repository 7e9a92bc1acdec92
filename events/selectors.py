"""Reads of merchants and events."""

from __future__ import annotations

import json
import re
import time

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import mark_safe

from events.cors import is_origin_allowed
from events.models import Merchant, MerchantAlert

MAX_WRITE_KEY_LENGTH = 64
WRITE_KEY_PATTERN = re.compile(r"wk_[A-Za-z0-9_-]+")  # new_write_key(): "wk_" + token_urlsafe


def get_returns_webhook_url(merchant: Merchant) -> str:
    return f"{settings.PUBLIC_BASE_URL}/api/v1/returns/loop/{merchant.returns_webhook_token}"


def merchant_credentials(merchant: Merchant) -> dict[str, object]:
    """What operators and scripts need to wire a store up (printed by the commands)."""
    return {
        "id": merchant.id,
        "name": merchant.name,
        "shop_domain": merchant.shop_domain,
        "write_key": merchant.write_key,
        "returns_webhook_url": get_returns_webhook_url(merchant),
        "returns_webhook_secret": merchant.returns_webhook_secret,
    }


# --- Ingest ------------------------------------------------------------------------


MERCHANT_CACHE_MAX_ENTRIES = 10_000
# write key -> (monotonic expiry, merchant or None): this process's memory of recent lookups.
_merchants_by_key: dict[str, tuple[float, Merchant | None]] = {}


def get_merchant_by_write_key(write_key: str) -> Merchant | None:
    """The active merchant owning this key; junk keys cost no query.

    Answers are remembered in this process for INGEST_MERCHANT_CACHE_SECONDS (0 disables):
    single-event ingest paid an indexed query per request for the same few keys. A change
    saved in this process forgets them at once (``forget_cached_merchants``, connected to
    Merchant saves); other processes see a rotated key or a deactivated merchant within
    that many seconds.
    """
    if len(write_key) > MAX_WRITE_KEY_LENGTH or not WRITE_KEY_PATTERN.fullmatch(write_key):
        return None  # junk (NUL bytes, spaces, other alphabets) never reaches the database
    now = time.monotonic()
    remembered = _merchants_by_key.get(write_key)
    if remembered is not None and remembered[0] > now:
        return remembered[1]
    # The webhook secret is encrypted: deferring it spares a Fernet decrypt per lookup.
    merchants = Merchant.objects.filter(write_key=write_key, is_active=True).defer("returns_webhook_secret")
    merchant = next(iter(merchants), None)
    ttl = settings.INGEST_MERCHANT_CACHE_SECONDS
    if ttl > 0:
        if len(_merchants_by_key) >= MERCHANT_CACHE_MAX_ENTRIES:
            _merchants_by_key.clear()  # bounded: a flood of made-up keys cannot grow it
        _merchants_by_key[write_key] = (now + ttl, merchant)
    return merchant


def forget_cached_merchants(**_: object) -> None:
    """Drop this process's remembered write-key lookups (a merchant was saved or deleted)."""
    _merchants_by_key.clear()


def is_origin_allowed_for_any_merchant(origin: str) -> bool:
    """Preflights carry no key: answer them for an origin that some active merchant allows."""
    lists = Merchant.objects.filter(is_active=True).values_list("allowed_origins", flat=True)
    return any(is_origin_allowed(origin, allowed or []) for allowed in lists)


def list_merchant_ids_for_origin(origin: str) -> list[int]:
    """Active merchants whose allowed origins include ``origin`` (ingest problems of keyless refusals)."""
    rows = Merchant.objects.filter(is_active=True).values_list("id", "allowed_origins")
    return [pk for pk, allowed in rows if is_origin_allowed(origin, allowed or [])]


def get_ingest_url() -> str:
    return f"{settings.PUBLIC_BASE_URL}/api/v1/events"


def get_pixel_url(merchant: Merchant) -> str:
    return f"{settings.PUBLIC_BASE_URL}/pixel.js?key={merchant.write_key}"


def get_pixel_script(merchant: Merchant) -> str:
    """The body of pixel.js for this merchant (its write key and the ingest URL baked in)."""
    return render_to_string("events/pixel.js", _js_context(merchant))


def get_pixel_snippet(merchant: Merchant) -> str:
    """The <script> tag a merchant pastes into the theme (theme.liquid, before </head>)."""
    return f'<script async src="{escape(get_pixel_url(merchant))}"></script>'


def get_shopify_custom_pixel_code(merchant: Merchant) -> str:
    """Code for Shopify admin > Settings > Customer events > Add custom pixel."""
    return render_to_string("events/shopify_custom_pixel.js", _js_context(merchant))


def _js_literal(value: str) -> str:
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


def _js_context(merchant: Merchant) -> dict[str, str]:
    return {
        "write_key_js": mark_safe(_js_literal(merchant.write_key)),  # noqa: S308 - JSON-encoded, < and > escaped
        "ingest_url_js": mark_safe(_js_literal(get_ingest_url())),  # noqa: S308
        "consent_policy_js": mark_safe(_js_literal(merchant.consent_policy)),  # noqa: S308
    }


def list_open_alerts(merchant: Merchant) -> list[MerchantAlert]:
    return list(MerchantAlert.objects.filter(merchant=merchant, resolved_at__isnull=True).order_by("-last_seen")[:10])
