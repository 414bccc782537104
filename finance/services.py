from django.db import transaction
from django.utils import timezone

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
