from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"
    verbose_name = "Payouts"

    def ready(self):
        # The admin's status history in sentences.
        from . import history_words

        history_words.register()
        # Stripe's transfer events are payouts' to apply.
        from stripe_integration.events import event_handler_register

        from .stripe_events import EVENT_HANDLERS

        for event_type, handler in EVENT_HANDLERS.items():
            event_handler_register(event_type, handler)
