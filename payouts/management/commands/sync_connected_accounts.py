from django.core.management.base import BaseCommand

from payouts.payout_accounts import payout_accounts_stripe_sync_all


class Command(BaseCommand):
    help = (
        "Read every seller's Stripe connected account back from Stripe (payouts enabled, what is "
        "still due) and store it; beat does the same daily. Run it once after upgrading, so accounts "
        "made before sellers onboarded themselves are paid on the next payout date. Exits 0 when "
        "Stripe answered for every account, 1 (naming those it did not) otherwise."
    )

    def handle(self, *args, **options):
        read, failed = payout_accounts_stripe_sync_all()
        self.stdout.write(f"Read {read} connected account(s) back from Stripe.")
        if failed:
            self.stderr.write(
                f"Stripe did not answer for {len(failed)}: {', '.join(failed)}. Run it again later."
            )
            raise SystemExit(1)
