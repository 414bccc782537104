from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self):
        # The admin's status history in sentences.
        from . import history_words

        history_words.register()
        from . import tasks  # noqa: F401  (registers billing's Celery tasks by name)
        from .services.subscriptions import subscription_invoices_register

        subscription_invoices_register()

        # Stripe's payment and refund events are billing's to apply.
        from stripe_integration.events import event_handler_register

        from .stripe_events import EVENT_HANDLERS

        for event_type, handler in EVENT_HANDLERS.items():
            event_handler_register(event_type, handler)
