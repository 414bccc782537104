"""Receipts: when an invoice is paid or refunded the customer gets a numbered receipt, by
email and as a printable page behind a signed link. Numbers come from one gapless
sequence for the whole platform, taken last in the transaction that moved the money
(marketplace/locking.py), so a rolled-back payment leaves no hole and no receipt."""

from marketplace.money import format_money
from marketplace.outbox import outbox_email

from ..invoice_owners import invoice_describe
from ..links import receipt_url
from ..models import Invoice, Receipt, ReceiptSequence, Transaction

TEMPLATE = "billing/email/receipt"


def receipt_issue(*, invoice: Invoice, kind: str, amount: int, reference: str = "") -> Receipt | None:
    """Number a receipt for money that moved on `invoice` and email it to the customer.
    Called inside the transaction that settled or refunded the invoice, after its owner
    was told. Nothing is issued for a zero amount, nor twice for one payment or refund."""
    if amount <= 0:
        return None
    if Receipt.objects.filter(invoice=invoice, kind=kind, reference=reference).exists():
        return None
    ReceiptSequence.objects.get_or_create(pk=1)
    sequence = ReceiptSequence.objects.select_for_update().get(pk=1)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    card = _card(invoice, kind, reference)
    receipt = Receipt.objects.create(
        number=sequence.last_number,
        invoice=invoice,
        kind=kind,
        amount=amount,
        currency=invoice.currency,
        card=card,
        reference=reference,
    )
    _email(receipt)
    return receipt


def _card(invoice: Invoice, kind: str, reference: str) -> str:
    charge = invoice.transactions.filter(kind=Transaction.Kind.CHARGE, status=Transaction.Status.DONE)
    charge = charge.select_related("payment_method").order_by("-done_at", "-pk").first()
    if charge is not None and charge.payment_method is not None:
        return str(charge.payment_method)
    return str(invoice.payment_method) if invoice.payment_method else ""


def _email(receipt: Receipt) -> None:
    invoice = receipt.invoice
    amount = format_money(receipt.amount, receipt.currency)
    what = invoice_describe(invoice)
    if receipt.kind == Receipt.Kind.PAYMENT:
        subject = f"Your receipt {receipt.display_number}: {amount} paid"
        first = f"Thank you. We received {amount} for {what[0].lower() + what[1:]}"
    else:
        subject = f"Your refund receipt {receipt.display_number}: {amount} refunded"
        first = f"We refunded {amount} for {what[0].lower() + what[1:]}"
    outbox_email(
        to=invoice.customer.user.email,
        template_prefix=TEMPLATE,
        context={
            "subject": subject,
            "first": first + (f", to {receipt.card}." if receipt.card else "."),
            "receipt": receipt,
            "description": what,
            "receipt_url": receipt_url(receipt),
        },
    )
