from datetime import timedelta

from marketplace.periodic import PeriodicTaskSpec

PERIODIC_TASKS = [
    PeriodicTaskSpec(
        name="Process transactions",
        task="billing.process_transactions",
        every=timedelta(minutes=1),
        description="Issues due subscription invoices, applies ended grace periods, attempts due charges and refunds.",
    ),
]
