import json

from django.core.management.base import BaseCommand

from marketplace.exceptions import ApplicationError, GatewayUnavailable
from marketplace.reconciliation import difference_line, reconciliation_report_create, since_parse

EXIT_CLEAN, EXIT_DIFFERENCES, EXIT_BAD_INPUT, EXIT_STRIPE_DOWN = 0, 1, 2, 3


class Command(BaseCommand):
    help = (
        "List every difference between local records and Stripe: PaymentIntents, refunds, "
        "disputes and Connect transfers created since --since (default: 35 days ago). Exit "
        "status 0 when there is none, 1 when there are differences, 2 for bad input, 3 when Stripe "
        "did not answer. Changes nothing at Stripe or in the records compared; each run's report is "
        "kept for staff (Admin > Stripe reconciliation reports), as beat's daily run is."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", help="YYYY-MM-DD, not in the future (default: 35 days ago).")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **options):
        try:
            since = since_parse(options["since"])
        except ApplicationError as exc:
            self.stderr.write(exc.message)
            raise SystemExit(EXIT_BAD_INPUT) from None
        try:
            stored = reconciliation_report_create(since=since)
        except GatewayUnavailable as exc:
            self.stderr.write(f"Stripe did not answer ({exc}); nothing was compared. Try again later.")
            raise SystemExit(EXIT_STRIPE_DOWN) from None
        report = {"since": since.isoformat(), "differences": stored.differences, "checked": stored.checked}
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, ensure_ascii=False))
        else:
            self._write_text(report)
        if report["differences"]:
            raise SystemExit(EXIT_DIFFERENCES)

    def _write_text(self, report: dict) -> None:
        checked = (
            ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in report["checked"].items())
            or "nothing"
        )
        self.stdout.write(f"Compared with Stripe since {report['since']}: {checked}.")
        differences = report["differences"]
        if not differences:
            self.stdout.write(self.style.SUCCESS("No differences."))
            return
        for difference in differences:
            self.stdout.write(difference_line(difference))
            if difference["local_value"] or difference["stripe_value"]:
                self.stdout.write(
                    f"    local: {difference['local_value'] or '-'}; Stripe: {difference['stripe_value'] or '-'}"
                )
        self.stdout.write(self.style.ERROR(f"{len(differences)} difference(s)."))
