from django.apps import AppConfig


class DestinationsConfig(AppConfig):
    name = "destinations"
    verbose_name = "Destinations and delivery"

    def ready(self) -> None:
        from destinations import dashboard  # noqa: F401  (registers the merchant dashboard section)

        """Fill the lower layers' hooks: identity's erasure reaches the platforms; the sweeper
        also sends due platform erasure requests."""
        from destinations.services import erasure, sweep
        from identity.services import register_erasure_hook

        register_erasure_hook(erasure.schedule_platform_erasures)
        if erasure.sweep_platform_erasures not in sweep.SWEEP_HOOKS:
            sweep.SWEEP_HOOKS.append(erasure.sweep_platform_erasures)
