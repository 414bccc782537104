"""Receipts: a numbered receipt, emailed and printable, whenever an invoice is paid or
refunded; one sequence for the whole platform."""

import pytest

from billing import services
from billing.links import receipt_token
from billing.models import Receipt

pytestmark = pytest.mark.django_db


def _sent_to(mailoutbox, email):
    return [m for m in mailoutbox if email in m.to]


def test_each_payment_gets_the_next_receipt_number_and_an_email(billing, mailoutbox):
    first = billing.invoice(billing.customer(card="4242424242424242"), amount=1200)
    second = billing.invoice(billing.customer(card="4242424242424242"), amount=3400)

    numbers = [Receipt.objects.get(invoice=inv).number for inv in (first, second)]
    assert numbers[1] == numbers[0] + 1
    receipt = Receipt.objects.get(invoice=second)
    (mail,) = [m for m in _sent_to(mailoutbox, second.customer.user.email) if "receipt" in m.subject]
    assert mail.subject == f"Your receipt {receipt.display_number}: $34.00 paid"
    assert "Visa •••• 4242" in mail.body and f"/billing/receipt/{receipt_token(receipt)}/" in mail.body


def test_a_declined_payment_gets_no_receipt(billing):
    invoice = billing.invoice(billing.customer(card="4000000000009995"))
    assert not Receipt.objects.filter(invoice=invoice).exists()


def test_a_refund_gets_its_own_receipt_that_names_the_payment(billing, client, mailoutbox):
    invoice = billing.invoice(billing.customer(card="4242424242424242"), amount=5000)
    with billing.capture(execute=True):
        services.invoice_refund(invoice_id=invoice.pk, amount=1250, reason="Damaged")

    payment, refund = Receipt.objects.filter(invoice=invoice).order_by("number")
    assert (refund.kind, refund.amount, refund.number) == ("refund", 1250, payment.number + 1)
    assert any(
        m.subject == f"Your refund receipt {refund.display_number}: $12.50 refunded" for m in mailoutbox
    )
    html = client.get(f"/billing/receipt/{receipt_token(refund)}/").content.decode()
    assert f"Refund receipt {refund.display_number}" in html
    assert f"Payment receipt {payment.display_number}" in html and "$12.50" in html


def test_a_tampered_receipt_link_shows_a_calm_page(client):
    response = client.get("/billing/receipt/not-a-token/")
    assert response.status_code == 400 and "This link is not valid" in response.content.decode()
