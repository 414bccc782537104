from datetime import timedelta

from marketplace.periodic import PeriodicTaskSpec

PERIODIC_TASKS = [
    PeriodicTaskSpec(
        name="Order reminders and auto-confirm",
        task="orders.send_reminders",
        every=timedelta(minutes=15),
        description="Reminds buyers and sellers once per round; auto-confirms when switched on.",
    ),
]
