"""What an event posted with the public write key may carry (pure: no ORM, no settings).

The write key is in every storefront page, so anything here can come from an attacker:
- sizes: at most MAX_TRAIT_KEYS traits and MAX_PROPERTY_KEYS properties per event, and
  MAX_TRAIT_BYTES / MAX_PROPERTY_BYTES of JSON each (a profile's own cap is identity's);
- URLs: a value under a URL-like key (``url``, ``ImageURL``, ``CheckoutURL``, ``referrer``,
  ... at any depth, e.g. ``Items[].ImageURL``) must be an absolute http(s) URL;
  ``//host/path`` becomes ``https://host/path``; ``javascript:``, ``data:`` and the rest
  are refused (they end up in ``href``/``src`` attributes of emails);
- identity fields (identifiers, traits) hold no markup (``<`` or ``>``), and trait names
  starting with ``$`` are reserved (identity uses ``$email`` / ``$phone`` internally).
A refusal is an ``EventInvalidError``: that event gets a 400 entry, the others are stored.
``strip_unsafe_urls`` is the same URL rule for data from any source, applied on the way out.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import orjson

from events.exceptions import EventInvalidError

MAX_TRAIT_KEYS = 50
MAX_TRAIT_BYTES = 8 * 1024
MAX_PROPERTY_KEYS = 200
MAX_PROPERTY_BYTES = 64 * 1024
URL_KEY_ENDINGS = ("url", "uri", "href", "link", "referrer")
SAFE_SCHEMES = frozenset({"http", "https"})
MARKUP = re.compile(r"[<>]")
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f]")  # browsers drop these: "java\tscript:" runs


def is_url_key(name: str) -> bool:
    return name.lower().endswith(URL_KEY_ENDINGS)


def safe_url(value: str) -> str | None:
    """The URL as it may be forwarded (``//x`` -> ``https://x``, "" stays ""), or None when it is not http(s)."""
    text = value.strip()
    if not text:
        return ""
    if text.startswith("//"):
        text = "https:" + text
    try:
        parts = urlsplit(_IGNORED_IN_SCHEME.sub("", text))
    except ValueError:
        return None
    if parts.scheme.lower() not in SAFE_SCHEMES or not parts.netloc:
        return None
    return text


def check_event_content(fields: dict[str, Any]) -> None:
    """Refuse (EventInvalidError) what no event from a browser may carry; normalise URLs in place."""
    traits, properties = fields.get("traits") or {}, fields.get("properties") or {}
    _check_size("traits", traits, MAX_TRAIT_KEYS, MAX_TRAIT_BYTES)
    _check_size("properties", properties, MAX_PROPERTY_KEYS, MAX_PROPERTY_BYTES)
    for name, value in traits.items():
        if name.startswith("$"):
            raise EventInvalidError("reserved_trait", f"Trait names starting with $ are reserved ({name[:40]!r}).")
        _check_markup(f"traits.{name}", value)
    for name, value in (fields.get("identifiers") or {}).items():
        _check_markup(f"identifiers.{name}", value)
    _check_markup("anonymous_id", fields.get("anonymous_id"))
    for name in ("properties", "context", "traits"):
        if fields.get(name):
            fields[name] = _checked_urls(fields[name], name)


def _check_size(name: str, value: dict[str, Any], max_keys: int, max_bytes: int) -> None:
    if len(value) > max_keys:
        raise EventInvalidError(f"too_many_{name}", f"An event carries at most {max_keys} {name}.")
    if len(orjson.dumps(value)) > max_bytes:
        raise EventInvalidError(f"{name}_too_large", f"An event's {name} are limited to {max_bytes} bytes of JSON.")


def _check_markup(path: str, value: Any) -> None:
    if isinstance(value, str) and MARKUP.search(value):
        raise EventInvalidError("markup_in_identity", f"{path[:60]} must not contain markup (< or >).")


def _checked_urls(value: Any, path: str) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(item, str) and is_url_key(key):
                url = safe_url(item)
                if url is None:
                    raise EventInvalidError("unsafe_url", f"{path}.{key} must be an absolute http(s) URL.")
                out[key] = url
            else:
                out[key] = _checked_urls(item, f"{path}.{key}")
        return out
    if isinstance(value, list):
        return [_checked_urls(item, f"{path}[]") for item in value]
    return value


def strip_unsafe_urls(value: Any) -> Any:
    """A copy without the URL-like values that are not http(s) (for data from any source)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(item, str) and is_url_key(key):
                url = safe_url(item)
                if url is not None:
                    out[key] = url
            else:
                out[key] = strip_unsafe_urls(item)
        return out
    if isinstance(value, list):
        return [strip_unsafe_urls(item) for item in value]
    return value
