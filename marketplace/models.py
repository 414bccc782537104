from django.db import models


class Heartbeat(models.Model):
    """The last time a Celery worker ran the heartbeat task that beat sends every
    minute: ops read it on /healthz to see that worker and beat are both alive."""

    name = models.CharField(max_length=50, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
