"""Upgrading to the unshipped timeout's pending and refused states (orders 0005): only an
order whose timeout refund is really on its way at Stripe is marked as being canceled.
Before it, an order that cost nothing was never canceled by the timeout (nothing to
refund, so no refund ever came back): it must stay shippable, not wait for a refund that
will never come, and the timeout now cancels it."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = ("orders", "0004_merge_20261206_0834")


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    return MigrationExecutor(connection)


def _leaves():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_only_orders_whose_timeout_refund_is_on_its_way_are_marked_as_being_canceled(
    django_capture_on_commit_callbacks,
):
    executor = _migrate([BEFORE])
    old = executor.loader.project_state([BEFORE]).apps
    User = old.get_model("accounts", "User")
    OldOrder, Event = old.get_model("orders", "Order"), old.get_model("orders", "OrderEvent")
    buyer = User.objects.create(email="buyer@example.com", role="buyer")
    seller = User.objects.create(email="seller@example.com", role="seller")
    paid_at = timezone.now() - timedelta(days=10)

    def paid_order(total, *events):
        order = OldOrder.objects.create(
            buyer_id=buyer.pk,
            seller_id=seller.pk,
            currency="USD",
            total_amount=total,
            status="paid",
            paid_at=paid_at,
        )
        for minutes, kind in enumerate(events):
            Event.objects.create(
                order=order, kind=kind, created_at=paid_at + timedelta(days=7, minutes=minutes)
            )
        return order.pk

    free = paid_order(0, "not_shipped_in_time")
    in_flight = paid_order(3600, "not_shipped_in_time")
    refused = paid_order(3600, "not_shipped_in_time", "refund_refused")

    _migrate(_leaves())

    from orders import services
    from orders.models import Order, OrderSettings

    rows = {o.pk: o for o in Order.objects.all()}
    assert rows[in_flight].being_canceled_unshipped and rows[in_flight].unshipped_cancel_refused_at is None
    assert rows[refused].unshipped_cancel_refused_at and not rows[refused].being_canceled_unshipped
    # The free order never had a refund on its way: it is not waiting for one.
    assert not rows[free].being_canceled_unshipped and rows[free].unshipped_cancel_refused_at is None

    config = OrderSettings.load()
    config.unshipped_cancel_days = 7
    config.save()
    with django_capture_on_commit_callbacks(execute=True):
        run = services.order_reminders_send()
    assert run.canceled_unshipped == 1
    assert Order.objects.get(pk=free).status == Order.Status.CANCELED
    assert Order.objects.get(pk=in_flight).status == Order.Status.PAID  # still waiting for Stripe
    assert Order.objects.get(pk=refused).status == Order.Status.PAID  # not asked again
