"""
The signed link in billing emails that lets a customer add a card for an invoice.

A token names one invoice and its customer, is signed with SECRET_KEY under its own salt
and timestamped, and expires after BILLING_LINK_MAX_AGE_DAYS. Opening it shows the invoice
and a card form; only the form's POST changes anything.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from marketplace.exceptions import LinkProblem

from .models import Invoice, Receipt

SALT = "billing.update-card-link.v1"


TAMPERED = LinkProblem(
    "This link is not valid",
    "The link is incomplete or has been changed. Open it again from the email.",
    400,
)
EXPIRED = LinkProblem(
    "This link has expired",
    "Links in billing emails work for a limited time. Sign in to see your invoices, or reply to the email for a new link.",
    410,
)


def card_update_token(invoice: Invoice) -> str:
    return signing.dumps({"i": invoice.pk, "c": invoice.customer_id}, salt=SALT, compress=True)


def card_update_url(invoice: Invoice) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("billing:update_card", args=[card_update_token(invoice)])


def card_update_invoice(token: str) -> Invoice:
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.BILLING_LINK_MAX_AGE_DAYS * 86400)
    except signing.SignatureExpired as exc:
        raise EXPIRED from exc
    except signing.BadSignature as exc:
        raise TAMPERED from exc
    invoice = (
        Invoice.objects.select_related("customer__user", "customer__default_payment_method", "order")
        .filter(pk=data.get("i"), customer_id=data.get("c"))
        .first()
    )
    if invoice is None:
        raise TAMPERED
    return invoice


# --- receipts ---------------------------------------------------------------------------
# A receipt link shows one receipt, read-only; it does not expire (a receipt is kept).
RECEIPT_SALT = "billing.receipt-link.v1"


def receipt_token(receipt: Receipt) -> str:
    return signing.dumps({"r": receipt.pk}, salt=RECEIPT_SALT, compress=True)


def receipt_url(receipt: Receipt) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("billing:receipt", args=[receipt_token(receipt)])


def receipt_from_token(token: str) -> Receipt:
    try:
        data = signing.loads(token, salt=RECEIPT_SALT)
    except signing.BadSignature as exc:
        raise TAMPERED from exc
    receipt = Receipt.objects.select_related("invoice__customer__user").filter(pk=data.get("r")).first()
    if receipt is None:
        raise TAMPERED
    return receipt
