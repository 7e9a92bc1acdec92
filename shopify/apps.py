from django.apps import AppConfig


class ShopifyConfig(AppConfig):
    """Shopify's server-side data (order and compliance webhooks), above events/identity/destinations.

    It may import events, identity and destinations; none of them imports it (as with returns).
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "shopify"
    verbose_name = "Shopify webhooks"
