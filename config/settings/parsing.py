"""Pure helpers for reading settings: blank means default, identifier limits, loopback hosts."""

from __future__ import annotations

import ipaddress
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

LOOPBACK_NAMES = frozenset({"localhost", "testserver", ".localhost"})


class BlankIsDefaultEnv(environ.Env):
    """An empty variable (``DJANGO_SECRET_KEY=``) reads as unset: the embedded default applies.

    `.env.example` lists every variable, most of them empty; copied to `.env` it must boot
    the product exactly as no `.env` at all does.
    """

    def get_value(self, var: str, cast: Any = None, default: Any = environ.Env.NOTSET, parse_default: bool = False):
        if default is not self.NOTSET and str(self.ENVIRON.get(var, "x")).strip() == "":
            if parse_default and default is not None:
                return self.parse_value(default, cast)
            return default
        return super().get_value(var, cast=cast, default=default, parse_default=parse_default)


def parse_limits(raw: str, *, default: dict[str, int]) -> dict[str, int]:
    """``"email=5,phone=5"`` (commas or semicolons) over ``default``; a malformed pair is an error."""
    limits = dict(default)
    for pair in raw.replace(";", ",").split(","):
        if not pair.strip():
            continue
        name, sep, value = pair.partition("=")
        try:
            number = int(value)
        except ValueError:
            number = -1
        if not sep or not name.strip() or number < 0:
            raise ImproperlyConfigured(
                f"IDENTITY_IDENTIFIER_LIMITS: {pair.strip()!r} is not type=N (e.g. email=5,phone=5)"
            )
        limits[name.strip()] = number
    return limits


def is_loopback_only(hosts: list[str]) -> bool:
    """True when every allowed host name is a loopback name or address (never for '*')."""
    if not hosts:
        return False
    for host in hosts:
        name = host.strip().lower().strip("[]")
        if name in LOOPBACK_NAMES or name.endswith(".localhost"):
            continue
        try:
            if not ipaddress.ip_address(name).is_loopback:
                return False
        except ValueError:
            return False
    return True
