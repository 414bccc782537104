from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self):
        from . import tasks  # noqa: F401  (registers billing's Celery tasks by name)
        from .services.subscriptions import subscription_invoices_register

        subscription_invoices_register()
