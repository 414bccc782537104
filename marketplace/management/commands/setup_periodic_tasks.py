import json

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from marketplace.periodic import periodic_task_specs

MANAGED_MARK = "[managed by setup_periodic_tasks]"


class Command(BaseCommand):
    help = (
        "Register every periodic task the apps declare with django-celery-beat. "
        "Idempotent: running it again updates the existing rows and leaves one of each; "
        "a managed task no longer declared is disabled."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        specs = periodic_task_specs()
        for spec in specs:
            schedule, _ = IntervalSchedule.objects.get_or_create(
                every=int(spec.every.total_seconds()), period=IntervalSchedule.SECONDS
            )
            task, created = PeriodicTask.objects.update_or_create(
                name=spec.name,
                defaults={
                    "task": spec.task,
                    "interval": schedule,
                    "crontab": None,
                    "kwargs": json.dumps(spec.kwargs),
                    "enabled": True,
                    "description": f"{spec.description} {MANAGED_MARK}".strip(),
                },
            )
            verb = "created" if created else "updated"
            self.stdout.write(f"{verb}: {spec.name} ({spec.task}, every {spec.every})")
        stale = PeriodicTask.objects.filter(description__endswith=MANAGED_MARK, enabled=True).exclude(
            name__in=[spec.name for spec in specs]
        )
        for task in stale:
            task.enabled = False
            task.save(update_fields=["enabled"])
            self.stdout.write(f"disabled: {task.name} (no longer declared)")
        self.stdout.write(self.style.SUCCESS(f"{len(specs)} periodic tasks registered."))
