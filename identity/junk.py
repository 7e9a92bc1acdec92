"""Junk identities: values that must never identify anyone (pure, no ORM).

An email identifies a person only when it is a plain, deliverable-looking personal
address. Rejected, with the reason shown on the event's identity decision:

- ``invalid``: not ``local@domain.tld`` of letters, digits and ``. _ % + -`` (no quotes,
  parentheses, commas, spaces: such a value could also inject terms into a Klaviyo
  ``filter=equals(email,"…")``);
- ``placeholder``: typed to get past a form (``test@``, ``noreply@``, ``asdf@…``,
  keyboard walks, one repeated character, the same local part and domain ``x@x.com``);
- ``reserved_domain``: RFC 2606 / RFC 6761 names (``example.*``, ``*.test``, ``*.invalid``,
  ``*.localhost``, ``*.example``) and well-known placeholder domains;
- ``disposable``: a throw-away inbox domain (the ``disposable-email-domains`` list, the
  community-maintained blocklist of github.com/disposable-email-domains);
- ``role``: a mailbox of a function, not a person (``info@``, ``sales@``, ``support@``…),
  often read by several people;
- ``merchant_blocked``: a value the merchant added (Merchant.blocked_identifier_values).

A phone identifies only when ``phonenumbers`` judges it *valid* (not merely possible) for
the merchant's default region, and it is not a run of one digit or a counting sequence.
"""

from __future__ import annotations

import re

from disposable_email_domains import blocklist as _disposable_domains

EMAIL_RE = re.compile(
    r"^(?P<local>[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*)@"
    r"(?P<domain>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})$"
)
KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890", "qazwsxedc", "azertyuiop", "qwertzuiop")
PLACEHOLDER_LOCALS = frozenset(
    {
        "test", "testing", "tester", "test1", "test123", "tests", "demo", "sample", "example", "fake", "dummy",
        "noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply", "nomail", "noemail",
        "none", "null", "nil", "nobody", "noone", "no", "na", "n-a", "void", "blank", "empty", "unknown",
        "anonymous", "guest", "user", "username", "email", "mail", "me", "you", "someone", "somebody",
        "foo", "bar", "foobar", "baz", "abc", "abcd", "abc123", "xyz",
        "your.name", "yourname", "youremail", "your-email", "firstname.lastname", "name",
        "asdf", "qwerty", "temp", "tmp", "spam", "junk", "nothanks", "no-thanks", "notgiven", "invalid",
    }
)  # fmt: skip
ROLE_LOCALS = frozenset(
    {
        "admin", "administrator", "info", "contact", "sales", "support", "help", "office", "hello", "team",
        "billing", "accounts", "accounting", "orders", "order", "shop", "store", "service", "customerservice",
        "webmaster", "postmaster", "hostmaster", "abuse", "security", "marketing", "newsletter", "enquiries",
        "inquiries", "hr", "jobs", "careers", "press", "media", "mailer-daemon", "root", "all", "staff",
    }
)  # fmt: skip
PLACEHOLDER_DOMAINS = frozenset(
    {
        "test.com", "testing.com", "fake.com", "fakeemail.com", "fakemail.com", "nomail.com", "noemail.com",
        "none.com", "null.com", "nowhere.com", "domain.com", "email.test", "mail.test", "sample.com",
        "asdf.com", "qwerty.com", "abc.com", "xyz.com", "foo.com", "bar.com", "invalid.com", "localhost",
    }
)  # fmt: skip
RESERVED_TLDS = frozenset({"test", "example", "invalid", "localhost", "local", "internal"})


def email_junk_reason(value: str, *, blocked: frozenset[str] = frozenset()) -> str | None:
    """Why a lower-cased, trimmed email cannot identify a person (None when it can)."""
    match = EMAIL_RE.match(value)
    if match is None or len(match["local"]) > 64:
        return "invalid"
    local, domain = match["local"], match["domain"]
    if value in blocked or domain in blocked:
        return "merchant_blocked"
    labels = domain.split(".")
    if labels[0] == "example" or labels[-1] in RESERVED_TLDS or domain in PLACEHOLDER_DOMAINS:
        return "reserved_domain"
    if _is_placeholder_local(local) or local == labels[0] or _is_keyboard_walk(labels[0]):
        return "placeholder"
    if domain in _disposable_domains or ".".join(labels[-2:]) in _disposable_domains:
        return "disposable"
    if local in ROLE_LOCALS:
        return "role"
    return None


def _is_placeholder_local(local: str) -> bool:
    bare = local.split("+", 1)[0]
    if bare in PLACEHOLDER_LOCALS or local in PLACEHOLDER_LOCALS:
        return True
    letters = re.sub(r"[^a-z0-9]", "", bare)
    if re.fullmatch(r"(test|noreply|donotreply|fake|dummy|sample|demo)\d*", letters):
        return True
    return (len(letters) >= 3 and len(set(letters)) == 1) or _is_keyboard_walk(letters)


def _is_keyboard_walk(text: str) -> bool:
    """Four or more characters read along one keyboard row (either way): asdf, qwerty, 4321."""
    if len(text) < 4 or not text.isalnum():
        return False
    return any(text in row or text in row[::-1] for row in KEYBOARD_ROWS)


def phone_junk_reason(national: str) -> str | None:
    """A valid-looking number that is still a placeholder: one repeated digit or a counting run."""
    digits = national[-7:]
    if len(set(digits)) == 1 or digits in "01234567890123" or digits in "98765432109876":
        return "placeholder"
    return None
