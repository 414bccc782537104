from django.db import migrations, models


def free_orders_are_not_waiting_for_a_refund(apps, schema_editor):
    """0005 marked every paid order the timeout had asked about as waiting for its refund,
    including orders that cost nothing: those never had a refund on its way (before 0005
    the timeout left them paid), so they would wait for ever, shippable by nobody. Only
    orders with nothing left to refund match; the timeout now cancels them."""
    Order = apps.get_model("orders", "Order")
    Order.objects.filter(
        status="paid",
        unshipped_cancel_requested_at__isnull=False,
        amount_refunded__gte=models.F("total_amount"),
    ).update(unshipped_cancel_requested_at=None)


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0005_unshipped_cancel_pending_and_refused"),
    ]

    operations = [
        migrations.RunPython(free_orders_are_not_waiting_for_a_refund, migrations.RunPython.noop),
    ]
