from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """Project-wide plumbing and operator commands (no models)."""

    name = "config"
    verbose_name = "Recapture"
