"""One refund path: whoever starts a refund (the seller, staff in either admin, the Stripe
Dashboard), the order, the invoice and the seller's earning move together, and only once
Stripe has confirmed it. Over HTTP against the suite's local Stripe server."""

import pytest
import stripe
from django.conf import settings

from accounts.tests.factories import SellerFactory, StaffFactory
from billing import services as billing_services
from billing.models import Invoice, Transaction
from orders import services as orders
from orders.models import Order, OrderEvent
from payouts.ledger import ledger_check
from payouts.models import Earning

pytestmark = pytest.mark.django_db


def _place(billing, *, currency="USD", unit_amount=1800, quantity=2):
    customer = billing.customer(card="4242424242424242")
    with billing.capture(execute=True):
        order = orders.order_place(
            buyer=customer.user,
            seller=SellerFactory(),
            currency=currency,
            items=[orders.ItemLine("Mug", quantity, unit_amount)],
        )
    return Order.objects.get(pk=order.pk)


def _complete(billing, order):
    with billing.capture(execute=True):
        orders.order_mark_delivered(order_id=order.pk, by=order.seller)
        orders.order_confirm_received(order_id=order.pk, by=order.buyer)
    return Order.objects.get(pk=order.pk)


def _payment_intent(order):
    return Transaction.objects.get(invoice__order=order, kind="charge").stripe_id


def test_a_refund_stripe_refuses_leaves_the_order_as_it_was_and_tells_only_the_seller(billing, mailoutbox):
    order = _place(billing)
    # Someone refunded the payment in the Stripe Dashboard (its webhook never came), so
    # Stripe refuses the seller's refund.
    stripe.Refund.create(payment_intent=_payment_intent(order), api_key=settings.STRIPE_SECRET_KEY)
    sent = len(mailoutbox)

    with billing.capture(execute=True):
        orders.order_refund(order_id=order.pk, by=order.seller, reason="Broken in transit")

    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.amount_refunded) == ("paid", 0)
    assert Invoice.objects.get(order=order).status == "settled"
    refused = OrderEvent.objects.get(order=order, kind=OrderEvent.Kind.REFUND_REFUSED)
    assert "already been refunded" in refused.note
    new = mailoutbox[sent:]
    assert [m.to for m in new] == [[order.seller.email]]
    assert new[0].subject == f"The refund for order #{order.pk} did not go through"
    assert not any("has been refunded" in m.subject for m in new)


def test_staff_refunding_the_invoice_in_the_billing_admin_refunds_the_order_and_the_sellers_earning(
    billing, mailoutbox
):
    order = _complete(billing, _place(billing))
    sale = Earning.objects.get(order=order, kind="sale")
    invoice = Invoice.objects.get(order=order)

    with billing.capture(execute=True):
        billing_services.invoice_refund(invoice_id=invoice.pk, by=StaffFactory(), reason="Goodwill")

    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.amount_refunded) == ("refunded", 3600)
    assert Earning.objects.get(pk=sale.pk).reversed_at is not None  # never paid out
    to_buyer = [m.subject for m in mailoutbox if m.to == [order.buyer.email]]
    assert f"Order #{order.pk} has been refunded" in to_buyer
    assert any(subject.startswith("Your refund receipt ") for subject in to_buyer)
    assert ledger_check() == []


def test_partial_refunds_leave_the_order_and_return_the_fee_in_proportion_until_the_last_one(billing):
    order = _complete(billing, _place(billing, unit_amount=5000, quantity=2))  # 100.00
    sale = Earning.objects.get(order=order, kind="sale")

    with billing.capture(execute=True):
        orders.order_refund(order_id=order.pk, by=order.seller, reason="One mug was chipped", amount=3333)
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.amount_refunded) == ("completed", 3333)
    (first,) = Earning.objects.filter(order=order, kind="clawback")
    assert first.gross_amount == 3333
    assert first.fee_amount == (2 * sale.fee_amount * 3333 + 10000) // 20000  # half up
    assert first.amount == -(3333 - first.fee_amount)
    assert Invoice.objects.get(order=order).amount_refunded == 3333

    with billing.capture(execute=True):
        orders.order_refund(order_id=order.pk, by=order.seller, reason="The other one too")
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.amount_refunded) == ("refunded", 10000)
    lines = Earning.objects.filter(order=order, kind="clawback")
    assert sum(line.gross_amount for line in lines) == 10000
    assert sum(line.amount for line in lines) == -sale.amount  # the seller keeps nothing
    assert ledger_check() == []


def test_a_refund_made_in_the_stripe_dashboard_refunds_the_order_through_its_webhook(
    billing, client, mailoutbox
):
    from billing.tests.test_webhooks import _event, _post

    order = _place(billing)
    refund = stripe.Refund.create(
        payment_intent=_payment_intent(order), amount=1000, api_key=settings.STRIPE_SECRET_KEY
    )

    with billing.capture(execute=True):
        response = _post(client, _event("evt_dashboard_refund", "refund.created", refund.to_dict()))
        again = _post(client, _event("evt_dashboard_refund_2", "refund.created", refund.to_dict()))

    assert response.status_code == 200 and again.status_code == 200
    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.amount_refunded) == ("paid", 1000)  # recorded once
    assert Invoice.objects.get(order=order).amount_refunded == 1000
    assert f"Part of order #{order.pk} has been refunded" in [m.subject for m in mailoutbox]


def test_an_order_in_kronur_is_charged_in_stripes_units(billing):
    order = _place(billing, currency="ISK", unit_amount=1000, quantity=1)  # 1,000 kr
    assert order.status == "paid"
    intent = stripe.PaymentIntent.retrieve(_payment_intent(order), api_key=settings.STRIPE_SECRET_KEY)
    assert (intent.amount, intent.currency) == (100000, "isk")  # Stripe keeps ISK two-decimal


def test_check_ledger_finds_an_order_whose_refund_disagrees_with_its_invoice_and_earning(billing):
    from io import StringIO

    from django.core.management import call_command

    order = _complete(billing, _place(billing))
    with billing.capture(execute=True):
        orders.order_refund(order_id=order.pk, by=order.seller, reason="Chipped", amount=1000)
    call_command("check_ledger", stdout=StringIO())  # holds: exits 0

    Order.objects.filter(pk=order.pk).update(amount_refunded=1500)  # drift, written behind its back
    err = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("check_ledger", stdout=StringIO(), stderr=err)
    assert exited.value.code == 1
    assert f"order #{order.pk} has 1500 refunded but its invoice 1000 refunded" in err.getvalue()
    assert f"order #{order.pk} has 1500 refunded but its earning lines took back 1000" in err.getvalue()


def test_the_seller_is_told_of_an_earning_adjustment_only_when_the_order_had_an_earning(billing, mailoutbox):
    # Not yet completed (paid, not shipped): no earning exists, so none is said to be reduced.
    order = _place(billing)
    with billing.capture(execute=True):
        orders.order_refund(order_id=order.pk, by=order.seller, reason="One mug chipped", amount=1000)
    [told] = [m for m in mailoutbox if m.subject == f"Order #{order.pk}: $10.00 refunded"]
    assert "earning for it is reduced" not in told.body
    assert "not completed, so there is no earning to adjust" in told.body
    assert not Earning.objects.filter(order=order).exists()
    # Completed: the earning is reduced, and the email says so.
    order = _complete(billing, Order.objects.get(pk=order.pk))
    with billing.capture(execute=True):
        orders.order_refund(order_id=order.pk, by=order.seller, reason="Second mug chipped", amount=500)
    [told] = [m for m in mailoutbox if m.subject == f"Order #{order.pk}: $5.00 refunded"]
    assert "Your earning for it is reduced in proportion" in told.body


def test_a_refused_refund_reads_as_refused_in_the_invoices_status_history(billing, admin_client):
    import re

    from django.urls import reverse

    order = _place(billing)
    stripe.Refund.create(payment_intent=_payment_intent(order), api_key=settings.STRIPE_SECRET_KEY)
    with billing.capture(execute=True):
        orders.order_refund(order_id=order.pk, by=order.seller, reason="Broken in transit")
    invoice = Invoice.objects.get(order=order)
    assert (invoice.status, invoice.amount_refunded) == ("settled", 0)
    html = admin_client.get(reverse("admin:billing_invoice_change", args=[invoice.pk])).content.decode()
    sentences = [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r'(?s)<td class="field-what_happened">(.*?)</td>', html)
    ]
    last = sentences[-1]
    assert last.startswith("Stripe refused the refund"), sentences
    assert not any("confirmed" in sentence for sentence in sentences[-2:]), sentences
