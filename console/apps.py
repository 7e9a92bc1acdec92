from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The merchant console (the admin pages that show several apps at once: merchant with its
    destinations and returns, dashboard and charts, live stream). The top layer: nothing imports it."""

    name = "console"
    verbose_name = "Console"
