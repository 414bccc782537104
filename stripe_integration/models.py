from django.db import models
from django.utils import timezone


class WebhookEvent(models.Model):
    """A Stripe event, stored once by its id before it is applied. A correctly signed event
    that cannot be applied (malformed, or about an object Stripe does not know) is stored
    as failed, with the reason, for staff to read in the admin."""

    stripe_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=300, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.TextField(blank=True)

    class Meta:
        # The table billing created before Stripe had its own app; the rows stayed.
        db_table = "billing_webhookevent"
        ordering = ["-received_at"]

    def __str__(self):
        return f"{self.type} {self.stripe_id}"
