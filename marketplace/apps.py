from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    """The project package doubles as an app for platform-wide pieces: health, the
    worker heartbeat, the periodic-task registry and the demo seeding command."""

    name = "marketplace"
    verbose_name = "Platform"

    def ready(self):
        from django.conf import settings

        # WhiteNoise warns when STATIC_ROOT is missing; collectstatic fills it in production.
        settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)
        if settings.CELERY_BROKER_URL.startswith("filesystem://"):
            # kombu's filesystem transport expects its folder to exist.
            settings.CELERY_BROKER_DIR.mkdir(parents=True, exist_ok=True)
