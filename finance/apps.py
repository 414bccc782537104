from django.apps import AppConfig


class FinanceConfig(AppConfig):
    """Holds the settings records admins edit under "Finance Settings" in the admin (the
    seed's "Admin → Finance Settings → Payout Cycle Settings"). The money itself lives in
    `payouts`; this app is only the place the admin groups the settings under. It holds
    settings only and imports nothing from payouts: payouts reads these settings, works
    out the schedule they describe, and registers the settings page with its preview."""

    name = "finance"
    verbose_name = "Finance Settings"

    def ready(self):
        from marketplace.platform_time import platform_timezone_source_register

        from .models import platform_timezone_read

        # Pages, the admin and emails show dates in the timezone these settings hold.
        platform_timezone_source_register(platform_timezone_read)
