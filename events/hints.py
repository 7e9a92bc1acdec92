"""The client hint: the least a click-id handoff needs to know about the sending device (pure).

Identity resolution lets a click id (fbclid, gclid, ttclid…) link a second browser only when
the two sightings agree on the client network and the OS family (the ad opened in an app's
in-app browser, then in the phone's own browser). So each event keeps only this, never the
address or the full user agent:

    "<a|b>:<os family>:<keyed hash of the network prefix>"

``a`` marks an in-app browser (Instagram, Facebook, TikTok, Snapchat, Pinterest, Google app,
Android WebView), ``b`` any other. The network prefix is the IPv4 /24 or the IPv6 /64 of
the client address (taken through TRUSTED_PROXY_COUNT), hashed with HMAC-SHA256 under a key
derived from SECRET_KEY and cut to 12 hex characters: equal prefixes give equal hints, and
the stored value cannot be turned back into an address without the key. Blanked after
IDENTITY_CLIENT_HINT_RETENTION_HOURS by the daily prune (docs/IDENTITY.md, privacy notes).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re

IN_APP_RE = re.compile(
    r"Instagram|FBAN/|FBAV/|FB_IAB|musical_ly|BytedanceWebview|TikTok|Snapchat|Pinterest|GSA/|; wv\)|Line/",
)
OS_PATTERNS = (
    ("ios", re.compile(r"iPhone|iPad|iPod|iOS")),
    ("android", re.compile(r"Android")),
    ("chromeos", re.compile(r"CrOS")),
    ("windows", re.compile(r"Windows")),
    ("macos", re.compile(r"Macintosh|Mac OS X")),
    ("linux", re.compile(r"Linux|X11")),
)


def os_family(user_agent: str) -> str:
    for name, pattern in OS_PATTERNS:
        if pattern.search(user_agent):
            return name
    return "other"


def network_prefix(ip: str) -> str:
    """The /24 of an IPv4 address, the /64 of an IPv6 one; "" when it is not an address."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    bits = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{bits}", strict=False))


def client_hint(ip: str, user_agent: str, *, key: bytes) -> str:
    """The hint of one request ("" when the address is unusable or no user agent came)."""
    prefix = network_prefix(ip or "")
    if not prefix or not user_agent:
        return ""
    digest = hmac.new(key, prefix.encode(), hashlib.sha256).hexdigest()[:12]
    kind = "a" if IN_APP_RE.search(user_agent) else "b"
    return f"{kind}:{os_family(user_agent)}:{digest}"


def hint_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"recapture client hint v1", hashlib.sha256).digest()


def is_handoff(first: str, second: str) -> bool:
    """``second`` can be the same phone as ``first``: same OS family and network, first seen in an app."""
    if not first or not second:
        return False
    first_kind, _, first_rest = first.partition(":")
    _second_kind, _, second_rest = second.partition(":")
    return first_kind == "a" and first_rest == second_rest
