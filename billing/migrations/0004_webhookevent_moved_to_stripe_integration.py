# The event inbox (WebhookEvent) now belongs to stripe_integration. Its table stays as it
# is (stripe_integration's model keeps db_table="billing_webhookevent"), so this removes
# the model from billing's state only, after stripe_integration has taken it over. Its
# content type moves with it, so staff permissions on stored events and the admin's
# history of them carry over.

from django.db import migrations


def content_type_move(apps, schema_editor, *, source, target):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label=target, model="webhookevent").exists():
        ContentType.objects.filter(app_label=source, model="webhookevent").update(app_label=target)


def forwards(apps, schema_editor):
    content_type_move(apps, schema_editor, source="billing", target="stripe_integration")


def backwards(apps, schema_editor):
    content_type_move(apps, schema_editor, source="stripe_integration", target="billing")


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0003_transaction_held_for_staff"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("stripe_integration", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="WebhookEvent")],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
