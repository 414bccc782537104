from datetime import date

from django.db import transaction
from django.utils import timezone

from payouts.selectors import payout_preview

from .models import PayoutCycleSettings, PayoutSettingsChange


def payout_settings_update(*, edited: PayoutCycleSettings, by) -> PayoutSettingsChange | None:
    """Save edited Payout Cycle Settings (already validated) and log who changed what,
    with the values before and after. Saving without a change logs nothing."""
    with transaction.atomic():
        current = PayoutCycleSettings.objects.select_for_update().filter(pk=1).first()
        before = (current or PayoutCycleSettings()).snapshot()
        edited.pk = 1
        edited.save()
        after = edited.snapshot()
        if before == after:
            return None
        return PayoutSettingsChange.objects.create(
            changed_at=timezone.now(), changed_by=by, before=before, after=after
        )


def payout_preview_lines(*, config: PayoutCycleSettings, now=None, count: int = 6) -> dict:
    """What the change form shows: where an order completed now lands, and the next dates."""
    now = now or timezone.now()
    preview = payout_preview(completed_at=now, config=config)
    dates = config.payout_schedule().payout_dates(start=config.today(now), count=count)
    return {
        **preview,
        "sentence": (
            f"An order completed now ({_long(preview['completed_on'])}, {config.timezone}) becomes available "
            f"on {_long(preview['available_on'])} and is paid on {_long(preview['payout_on'])}."
        ),
        "next_dates": [d.isoformat() for d in dates],
        "next_dates_text": [f"{d:%a %-d %b %Y}" for d in dates],
    }


def _long(iso: str) -> str:
    return f"{date.fromisoformat(iso):%A %-d %B %Y}"
