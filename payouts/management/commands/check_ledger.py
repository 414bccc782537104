from django.core.management.base import BaseCommand

from marketplace.app_modules import app_modules
from payouts.ledger import ledger_check
from payouts.models import Entry, Journal, LedgerAccount


class Command(BaseCommand):
    help = (
        "Check seller money: every journal balances, every cached balance equals the sum of its "
        "entries, every seller balance equals their unpaid earnings, every payout equals its "
        "earnings, and (from each app's ledger_checks module) every order's refunds agree with its "
        "invoice and its seller's earning lines. Exits 0 when all hold, 1 (listing what broke) otherwise."
    )

    def handle(self, *args, **options):
        problems = ledger_check()
        for module in app_modules("ledger_checks"):
            problems += module.ledger_problems()
        if problems:
            for problem in problems:
                self.stderr.write(str(problem))
            self.stderr.write(f"The ledger does NOT hold: {len(problems)} problem(s) shown.")
            raise SystemExit(1)
        self.stdout.write(
            f"Ledger OK: {Journal.objects.count()} journals, {Entry.objects.count()} entries, "
            f"{LedgerAccount.objects.count()} accounts; every invariant holds."
        )
