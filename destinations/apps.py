from django.apps import AppConfig


class DestinationsConfig(AppConfig):
    name = "destinations"
    verbose_name = "Destinations and delivery"

    def ready(self) -> None:
        from destinations import dashboard  # noqa: F401  (registers the merchant dashboard section)
