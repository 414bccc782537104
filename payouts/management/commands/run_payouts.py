import sys
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from finance.models import PayoutCycleSettings
from marketplace.exceptions import ApplicationError
from marketplace.money import format_money
from payouts.schedule import schedule_for
from payouts.services import payout_date_check, payout_run_create, payout_run_dry


class Command(BaseCommand):
    help = (
        "Build and submit the payouts due on a payout date (default: today in the platform "
        "timezone). Running it twice, or twice at once, pays nobody twice. With --dry-run, show "
        "what a run would pay, also for a future payout date, and change nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--date",
            help="The payout date, YYYY-MM-DD (today or earlier; with --dry-run, a future one too).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Show what would be paid; change nothing.")
        parser.add_argument("--chunk-size", type=int, default=2_000, help="Sellers per transaction.")

    def handle(self, *args, date=None, dry_run=False, chunk_size=2_000, **options):
        config = PayoutCycleSettings.load()
        today = config.today()
        payout_date = _parse_date(date) if date else today
        try:
            payout_date_check(payout_date=payout_date)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        if payout_date > today and not dry_run:
            raise CommandError(
                f"{payout_date} is in the future (today is {today} in {config.timezone}); "
                "a payout run only pays money that is available by its date: use --dry-run to preview it."
            )
        schedule = schedule_for(config)
        if not date and not schedule.is_payout_date(payout_date):
            # A daily cron calling it without a date is fine: most days have nothing to do.
            self.stdout.write(
                f"Today ({today}, {config.timezone}) is not a payout date; the next one is "
                f"{schedule.next_payout_date(today)}. Nothing to do."
            )
            return
        if not schedule.is_payout_date(payout_date):
            raise CommandError(
                f"{payout_date} is not a payout date under the current schedule ({schedule.describe()}); "
                f"the nearest one on or after it is {schedule.next_payout_date(payout_date)}."
            )
        if chunk_size < 1:
            raise CommandError("--chunk-size must be 1 or more.")
        if dry_run:
            report = payout_run_dry(payout_date=payout_date)
            if payout_date > today:
                days = (payout_date - today).days
                first = ""
                if report.earlier_dates:
                    dates = ", ".join(f"{day}" for day in report.earlier_dates)
                    first = f", after the payout dates before it ({dates}) have paid what they would"
                self.stdout.write(
                    f"{payout_date} is {days} day{'s' if days != 1 else ''} away: what its run would pay "
                    f"as things stand today{first} (earnings available by then, each seller as they could "
                    "be paid on that date); orders completed, refunded or disputed meanwhile will change it."
                )
        else:
            report = payout_run_create(
                payout_date=payout_date, chunk_size=chunk_size, progress=self._progress()
            )
        self._summary(report)

    def _progress(self):
        if not sys.stderr.isatty():
            return None

        def show(done, total):
            width = 30
            filled = int(width * done / total) if total else width
            sys.stderr.write(
                f"\r[{'#' * filled}{'.' * (width - filled)}] {done * 100 // max(total, 1):3d}% of sellers"
            )
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()

        return show

    def _summary(self, report):
        label = "Dry run for" if report.dry_run else "Payout run for"
        self.stdout.write(f"{label} {report.payout_date:%Y-%m-%d}")
        if report.already_done:
            self.stdout.write("This date's run was already done; nothing new was built.")
            return
        if report.paused:
            self.stdout.write("Payouts are paused in the Payout Cycle Settings; nothing was built.")
            return
        rows = [
            ("Payouts" + (" to build" if report.dry_run else " built"), str(report.payouts)),
            ("Earnings paid", str(report.lines)),
            *[
                (f"Total {currency}", format_money(amount, currency))
                for currency, amount in sorted(report.amounts.items())
            ],
            ("Under the minimum (carried forward)", str(report.below_minimum)),
            ("Sellers who cannot be paid yet (carried forward)", str(report.on_hold)),
            ("Balance zero or negative (carried forward)", str(report.not_positive)),
        ]
        width = max(len(name) for name, _ in rows)
        value_width = max(len(value) for _, value in rows)
        self.stdout.write("-" * (width + value_width + 3))
        for name, value in rows:
            self.stdout.write(f"{name:<{width}}   {value:>{value_width}}")


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"“{text}” is not a date: use YYYY-MM-DD, e.g. 2027-01-15.") from None
