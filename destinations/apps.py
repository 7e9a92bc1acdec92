from django.apps import AppConfig


class DestinationsConfig(AppConfig):
    name = "destinations"
    verbose_name = "Destinations and delivery"

    def ready(self) -> None:
        """The sweeper also sends due platform erasure requests (identity's erasure hook that
        schedules them is filled by the pipeline app, which wires the apps together)."""
        from destinations.services import erasure, sweep

        if erasure.sweep_platform_erasures not in sweep.SWEEP_HOOKS:
            sweep.SWEEP_HOOKS.append(erasure.sweep_platform_erasures)
