from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Merchants and events"

    def ready(self) -> None:
        from events.models import Merchant
        from events.selectors import forget_cached_merchants

        # A rotated key, a deactivation or new allowed origins apply at once in this process
        # (other processes within INGEST_MERCHANT_CACHE_SECONDS).
        post_save.connect(forget_cached_merchants, sender=Merchant, dispatch_uid="forget-merchants-saved")
        post_delete.connect(forget_cached_merchants, sender=Merchant, dispatch_uid="forget-merchants-deleted")
