"""Template tags for the console's home page."""

from __future__ import annotations

from django import template

from events.models import Merchant

register = template.Library()


@register.simple_tag
def console_merchants(limit: int = 20) -> list[Merchant]:
    """The first merchants by name, for the home page's dashboard links (one bounded query)."""
    return list(Merchant.objects.order_by("name").only("name", "shop_domain")[:limit])
