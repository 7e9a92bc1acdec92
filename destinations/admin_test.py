"""The destination Test button in the console: what its answer says, and the badge it leaves.

The Test runs in place (a fetch from the merchant or destination page, so unsaved edits
stay), and its answer is written for a support agent: who answered, whether the key was
checked at all, and which features lack a scope. A platform that cannot be reached
leaves the key *unverified*, never green.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from config.admin import chip
from destinations.models import Destination, DestinationStatus
from destinations.services import TestResult

# Substrings of requests/urllib3 exception texts -> what happened, in words.
NETWORK_REASONS = (
    (
        ("NameResolutionError", "Failed to resolve", "Name or service not known", "getaddrinfo", "nodename"),
        "DNS lookup failed",
    ),
    (("timed out", "Timeout", "timeout:"), "the request timed out"),
    (("Connection refused", "ECONNREFUSED"), "connection refused"),
    (("SSL", "CERTIFICATE", "certificate"), "TLS certificate error"),
)


@dataclass(frozen=True, slots=True)
class TestReport:
    ok: bool
    text: str
    badge: str  # verified / unverified / missing scopes / key refused
    badge_status: str  # chip colour

    __test__ = False


def network_reason(message: str) -> str:
    for needles, reason in NETWORK_REASONS:
        if any(n in message for n in needles):
            return reason
    return "network error"


def describe_test(platform: str, result: TestResult) -> TestReport:
    """The Test's answer in words, and the badge it leaves (pure)."""
    if result.status_code is None:
        reason = network_reason(result.message)
        return TestReport(
            False, f"Couldn't reach {platform} ({reason}); the key was not checked.", "unverified", "unverified"
        )
    code = f"HTTP {result.status_code}"
    if result.ok:
        return TestReport(
            True, f"{platform} accepted the key ({code}). {result.message}".strip(), "verified", "verified"
        )
    if result.status_code == 401:
        text = f"{platform} refused the API key ({code}): {result.message} Deliveries are paused until it is fixed."
        return TestReport(False, text, "key refused", "error")
    if result.missing_scopes:
        return TestReport(
            False, f"{platform} accepted the key ({code}) but: {result.message}", "missing scopes", "error"
        )
    text = f"{platform} answered {code}: {result.message}; the key was not checked."
    return TestReport(False, text, "unverified", "unverified")


def report_html(report: TestReport, result: TestResult) -> SafeString:
    features = format_html_join(
        "",
        "<li>{}: {}{}</li>",
        (
            (
                f.name,
                f.status,
                format_html(" (scopes: {})", ", ".join(f.missing or f.unverified))
                if (f.missing or f.unverified)
                else "",
            )
            for f in result.features
        ),
    )
    return format_html(
        '<span class="rc-test-text">{}</span>{}',
        report.text,
        format_html('<ul class="rc-test-features">{}</ul>', features) if result.features else "",
    )


def health_badge(destination: Destination) -> SafeString:
    """The stored state: paused (error), unverified (the last check or send failed after the last success), active."""
    if destination.pk is None:
        return mark_safe("-")
    when = destination.last_error_at.strftime("%Y-%m-%d %H:%M UTC") if destination.last_error_at else ""
    if destination.status == DestinationStatus.ERROR:
        badge = chip("error", status="error", title="Deliveries are paused until the key is fixed")
        return format_html(
            '{} <span class="rc-last-error">{}</span> <small>{}</small>', badge, destination.last_error, when
        )
    failed_last = destination.last_error_at and (
        destination.last_success_at is None or destination.last_error_at > destination.last_success_at
    )
    if failed_last:
        badge = chip("unverified", status="unverified", title="The last check or send failed; deliveries continue")
        return format_html(
            '{} <span class="rc-last-error">{}</span> <small>{}</small>', badge, destination.last_error, when
        )
    ok = destination.last_success_at.strftime("%Y-%m-%d %H:%M UTC") if destination.last_success_at else "never"
    return format_html("{} <small>last success {}</small>", chip("active", status="active"), ok)


def health_block(destination: Destination) -> SafeString:
    return format_html(
        '<span class="rc-health" data-destination="{}">{}</span>', destination.pk or "", health_badge(destination)
    )
