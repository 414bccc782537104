"""
The periodic tasks the platform needs. Each app lists its own in `<app>/periodic.py` as
PERIODIC_TASKS; `manage.py setup_periodic_tasks` registers them all with
django-celery-beat. Beat only wakes tasks up: the work that is due is stored in the
database and each task polls for it.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from .app_modules import app_modules


@dataclass(frozen=True)
class PeriodicTaskSpec:
    name: str
    task: str
    every: timedelta
    kwargs: dict = field(default_factory=dict)
    description: str = ""


PERIODIC_TASKS = [
    PeriodicTaskSpec(
        name="Worker heartbeat",
        task="marketplace.record_heartbeat",
        every=timedelta(minutes=1),
        description="Shows on /healthz when a worker last ran a task sent by beat.",
    ),
    PeriodicTaskSpec(
        name="Outbox sweep",
        task="marketplace.outbox_sweep",
        every=timedelta(minutes=1),
        description="Sends the emails and runs the deferred tasks that the broker never "
        "delivered (it was down when their transaction committed), and retries failed ones.",
    ),
    PeriodicTaskSpec(
        name="Reconcile with Stripe",
        task="marketplace.reconcile_stripe",
        every=timedelta(days=1),
        description="Compares payments, refunds, disputes and transfers of the last 35 days with "
        "Stripe and stores the report (admin: Stripe reconciliation reports).",
    ),
]


def periodic_task_specs() -> list[PeriodicTaskSpec]:
    """Every app's PERIODIC_TASKS, in INSTALLED_APPS order."""
    return [spec for module in app_modules("periodic") for spec in getattr(module, "PERIODIC_TASKS", [])]
