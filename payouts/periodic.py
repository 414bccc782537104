from datetime import timedelta

from marketplace.periodic import PeriodicTaskSpec

PERIODIC_TASKS = [
    PeriodicTaskSpec(
        name="Run due payouts",
        task="payouts.run_due",
        every=timedelta(hours=1),
        description="On a payout date (platform timezone) builds that date's payouts once; catches up missed dates.",
    ),
    PeriodicTaskSpec(
        name="Send Stripe Connect payouts",
        task="payouts.submit",
        every=timedelta(minutes=15),
        description="Sends scheduled Stripe Connect payouts and resends those Stripe did not answer, same key.",
    ),
    PeriodicTaskSpec(
        name="Read sellers' Stripe accounts back",
        task="payouts.sync_connected_accounts",
        every=timedelta(hours=24),
        description="Reads every connected account from Stripe (payouts enabled, what is due), in case a webhook was lost.",
    ),
]
