from django.core.management.base import BaseCommand

from billing.services import transactions_process_due


class Command(BaseCommand):
    help = (
        "Issue the invoices of every subscription period that has started (missed ones too), "
        "apply ended grace periods, then attempt every due charge and refund. Beat runs the same "
        "loop every minute; only one runs at a time."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--concurrency", type=int, default=None, help="Charges in flight at once (PostgreSQL only)."
        )

    def handle(self, *args, concurrency=None, **options):
        if concurrency is not None and concurrency < 1:
            self.stderr.write("--concurrency must be 1 or more.")
            raise SystemExit(2)
        report = transactions_process_due(concurrency=concurrency)
        if report.skipped_busy:
            self.stdout.write("Another process_transactions is running; nothing done.")
            return
        self.stdout.write(f"Subscription invoices issued: {report.invoices_issued}")
        self.stdout.write(f"Grace periods ended (orders canceled / final actions): {report.final_actions}")
        if not report.results:
            self.stdout.write("No transaction was due.")
        for result, count in sorted(report.results.items()):
            self.stdout.write(f"  {result:<10} {count}")
