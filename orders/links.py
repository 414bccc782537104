"""
Signed links in the buyer's confirmation email.

A token names one order, one confirmation round and one answer ("received" or
"not_received"), and is signed with SECRET_KEY (django.core.signing, with its own salt)
and timestamped, so it expires after the Order Settings' link lifetime. Opening a link
only shows a page; the page's button POSTs, so a mail scanner that opens every link
changes nothing.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

from marketplace.exceptions import LinkProblem

from .models import Order, OrderSettings

SALT = "orders.confirmation-link.v1"
RECEIVED = "received"
NOT_RECEIVED = "not_received"
ANSWERS = {RECEIVED, NOT_RECEIVED}


MSG_TAMPERED = LinkProblem(
    "This link is not valid",
    "The link is incomplete or has been changed. Open it again from the email, or sign in to see your orders.",
    400,
)
MSG_EXPIRED = LinkProblem(
    "This link has expired",
    "Links in confirmation emails work for a limited time. Sign in to confirm from your orders page.",
    410,
)
MSG_EARLIER_ROUND = LinkProblem(
    "This link is from an earlier email",
    "The seller has asked you again since this email was sent. Use the link in the most recent email "
    "about this order.",
    410,
)


@dataclass(frozen=True)
class ConfirmationLink:
    order: Order
    round: int
    answer: str


def confirmation_token(*, order: Order, answer: str) -> str:
    if answer not in ANSWERS:
        raise ValueError(answer)
    return signing.dumps({"o": order.pk, "r": order.confirmation_round, "a": answer}, salt=SALT)


def confirmation_url(*, order: Order, answer: str) -> str:
    token = confirmation_token(order=order, answer=answer)
    return settings.SITE_URL + reverse("orders:confirmation_link", args=[order.pk, token])


def confirmation_link_read(*, order_id: int, token: str) -> ConfirmationLink:
    """The link's order, round and answer; raises LinkProblem for a tampered, expired,
    foreign or earlier-round link. Whether it was already used is the page's concern:
    it shows the order's current state."""
    max_age = timedelta(days=OrderSettings.load().link_lifetime_days)
    try:
        payload = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise MSG_EXPIRED from exc
    except signing.BadSignature as exc:
        raise MSG_TAMPERED from exc
    if not isinstance(payload, dict) or payload.get("o") != order_id or payload.get("a") not in ANSWERS:
        raise MSG_TAMPERED
    order = Order.objects.select_related("buyer", "seller").filter(pk=order_id).first()
    if order is None:
        raise MSG_TAMPERED
    if payload["r"] != order.confirmation_round:
        raise MSG_EARLIER_ROUND
    return ConfirmationLink(order=order, round=payload["r"], answer=payload["a"])
