from __future__ import annotations

from django.db import models


class Profile(models.Model):
    """A person as Recapture knows them, per merchant. Identity resolution fills it in."""

    merchant = models.ForeignKey("events.Merchant", on_delete=models.CASCADE, related_name="profiles")
    email = models.CharField(max_length=254, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.email or f"anonymous #{self.pk}"
