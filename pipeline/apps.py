from django.apps import AppConfig


class PipelineConfig(AppConfig):
    """The layer that wires the apps together (README, "Layers"): it fills the hooks lower apps
    expose, so no lower app imports a higher one."""

    name = "pipeline"
    verbose_name = "Pipeline"

    def ready(self) -> None:
        from events.services import register_event_processor
        from identity.services import register_erasure_hook
        from pipeline import erasure, processing

        register_event_processor(processing.process_stored_events)
        for hook in erasure.ERASURE_HOOKS:
            register_erasure_hook(hook)
