# The event inbox moved here from billing. The table is the one billing's first migration
# created (billing_webhookevent); this only tells Django's state that the model is now
# stripe_integration's, so existing rows stay where they are.

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        # The table is created there (on a fresh database as well).
        ("billing", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="WebhookEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("stripe_id", models.CharField(max_length=255, unique=True)),
                        ("type", models.CharField(max_length=100)),
                        ("payload", models.JSONField()),
                        ("received_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("processed_at", models.DateTimeField(blank=True, null=True)),
                        ("result", models.CharField(blank=True, max_length=300)),
                    ],
                    options={
                        "db_table": "billing_webhookevent",
                        "ordering": ["-received_at"],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
