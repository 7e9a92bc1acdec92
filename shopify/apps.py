from django.apps import AppConfig


class ShopifyConfig(AppConfig):
    """Shopify's server-side data (order, checkout and compliance webhooks), above events/identity/destinations.

    It may import events, identity and destinations; none of them imports it (as with returns).
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "shopify"
    verbose_name = "Shopify webhooks"

    def ready(self) -> None:
        """Fill destinations' hooks: Started Checkout sends the checkout webhook's recovery URL,
        and waits a little for it when it is not known yet."""
        from destinations.services.outbound import PROPERTY_HOOKS
        from destinations.services.scheduling import DELAY_HOOKS
        from shopify.services import started_checkout_delays, started_checkout_overlays

        if started_checkout_overlays not in PROPERTY_HOOKS:
            PROPERTY_HOOKS.append(started_checkout_overlays)
        if started_checkout_delays not in DELAY_HOOKS:
            DELAY_HOOKS.append(started_checkout_delays)
