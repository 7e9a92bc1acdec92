"""Project-wide operator services (secrets at rest)."""

from __future__ import annotations

from django.db import transaction

from config import crypto


def rotate_encryption_key(*, batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt every encrypted field with the primary (first) FIELD_ENCRYPTION_KEYS key.

    Run after putting a new key first in FIELD_ENCRYPTION_KEYS (old keys after it);
    once it has run, the old keys can be removed.
    """
    counts: dict[str, int] = {}
    for model, field in crypto.encrypted_fields():
        label = f"{model._meta.label}.{field}"
        counts[label] = 0
        pks = list(model._base_manager.values_list("pk", flat=True).order_by("pk"))
        for start in range(0, len(pks), batch_size):
            chunk = pks[start : start + batch_size]
            with transaction.atomic():
                rows = model._base_manager.filter(pk__in=chunk).values_list("pk", field)
                for pk, plaintext in rows:
                    if plaintext:
                        # get_prep_value encrypts with the primary key
                        model._base_manager.filter(pk=pk).update(**{field: plaintext})
                        counts[label] += 1
    return counts
