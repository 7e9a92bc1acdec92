"""Test settings: the base settings with tasks run inline and fast hashing."""

import os

os.environ.setdefault("Q_SYNC", "true")

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOG_LEVEL = "WARNING"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# Exact shared counters in tests (each request syncs); the per-process tally has tests of its own.
INGEST_RATE_LIMIT_SYNC_SECONDS = 0
# The Loop fixtures carry fixed dates: no payload-age check unless a test turns it on.
LOOP_WEBHOOK_MAX_AGE_DAYS = 0
