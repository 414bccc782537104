"""
The periodic tasks the platform needs. Each app lists its own in `<app>/periodic.py` as
PERIODIC_TASKS; `manage.py setup_periodic_tasks` registers them all with
django-celery-beat. Beat only wakes tasks up: the work that is due is stored in the
database and each task polls for it.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from importlib import import_module

from django.apps import apps


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
]


def periodic_task_specs() -> list[PeriodicTaskSpec]:
    """Every app's PERIODIC_TASKS, in INSTALLED_APPS order."""
    specs = []
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.periodic")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.periodic":
                raise
            continue
        specs.extend(getattr(module, "PERIODIC_TASKS", []))
    return specs
