import json
from datetime import date, datetime

from django.core.management.base import BaseCommand, CommandError

from finance.models import PayoutCycleSettings
from payouts.selectors import payout_preview

PREVIEW_FIRST_DATE = date(1900, 1, 1)


class Command(BaseCommand):
    help = (
        "When does an order completed at a given moment become available, and when is it paid, "
        "under the current Payout Cycle Settings? A naive timestamp is read in the platform timezone."
    )

    def add_arguments(self, parser):
        parser.add_argument("--completed-at", required=True, help="ISO 8601, e.g. 2027-01-05T10:00:00Z.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print one JSON object.")

    def handle(self, *args, completed_at, as_json=False, **options):
        config = PayoutCycleSettings.load()
        try:
            moment = datetime.fromisoformat(completed_at.replace("Z", "+00:00"))
        except ValueError:
            raise CommandError(
                f"“{completed_at}” is not an ISO 8601 timestamp: use e.g. 2027-01-05T10:00:00Z or 2027-01-05 10:00."
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=config.tz)
        # Dates are computed days ahead of the moment, in the platform's timezone; 1900 to
        # a century from now covers any real question (a preview writes nothing, so an
        # old date such as the seed's example year is fine) and keeps them in the calendar.
        first, last = PREVIEW_FIRST_DATE, config.today().replace(month=1, day=1)
        last = last.replace(year=last.year + 100)
        if not first <= moment.date() < last:
            raise CommandError(
                f"“{completed_at}” is not a moment an order can complete: give one from "
                f"{first.isoformat()} to before {last.isoformat()}."
            )
        preview = payout_preview(completed_at=moment, config=config)
        if as_json:
            self.stdout.write(json.dumps(preview, sort_keys=True))
            return
        self.stdout.write(
            f"Completed {preview['completed_on']} ({preview['timezone']}), T+{preview['delay_days']}:\n"
            f"  available on {preview['available_on']}\n"
            f"  paid on      {preview['payout_on']}  ({preview['schedule']})"
        )
