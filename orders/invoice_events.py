"""
The order as the owner of its invoice. Billing knows nothing of orders: it calls these
through `billing.invoice_owners`, registered in `OrdersConfig.ready()`, inside the
transaction that changed the invoice, with the order's row already locked by `lock`
(the order before its invoice: marketplace/locking.py).
"""

from billing import services as billing
from billing.invoice_owners import invoice_owner_register
from billing.models import Invoice

from .models import Order
from .services import (
    order_cancel,
    order_dispute_closed,
    order_dispute_opened,
    order_pay,
    order_refund_confirmed,
    order_refund_refused,
)

S = Order.Status
NEVER_SETTLED = "Payment never settled"


def _lock(invoice: Invoice) -> None:
    Order.objects.select_for_update().filter(pk=invoice.order_id).first()


def _settled(invoice: Invoice, **details) -> None:
    """The buyer's payment arrived: the order is paid (once)."""
    if Order.objects.filter(pk=invoice.order_id, status=S.PENDING_PAYMENT).exists():
        order_pay(order_id=invoice.order_id)


def _canceled(invoice: Invoice, *, by=None, reason: str = "", **details) -> None:
    """Nothing will be collected for the order (staff canceled its invoice): an unpaid
    order is canceled with it. When the order's own cancel canceled the invoice, the
    order is already canceled and this does nothing."""
    if Order.objects.filter(pk=invoice.order_id, status=S.PENDING_PAYMENT).exists():
        order_cancel(order_id=invoice.order_id, by=None, reason=reason or "Its invoice was canceled")


def _grace_ended(invoice: Invoice, **details) -> None:
    """The payment failed for good: cancel the unpaid order (which cancels the invoice)."""
    if Order.objects.filter(pk=invoice.order_id, status=S.PENDING_PAYMENT).exists():
        order_cancel(order_id=invoice.order_id, by=None, reason=NEVER_SETTLED)
    else:
        billing.invoice_cancel(invoice_id=invoice.pk, reason=NEVER_SETTLED)


def _refunded(
    invoice: Invoice, *, amount: int, reason: str = "", reference: str = "", by=None, **details
) -> None:
    """Stripe confirmed a refund of the order's invoice, whoever started it (the seller,
    staff in the orders or the billing admin, the Stripe Dashboard): the order follows."""
    order_refund_confirmed(
        order_id=invoice.order_id, amount=amount, reason=reason, by=by, reference=reference
    )


def _refund_refused(invoice: Invoice, *, amount: int, reason: str = "", **details) -> None:
    order_refund_refused(order_id=invoice.order_id, amount=amount, reason=reason)


def _disputed(invoice: Invoice, *, dispute, **details) -> None:
    order_dispute_opened(
        order_id=invoice.order_id, dispute_ref=dispute.stripe_id, amount=dispute.amount, reason=dispute.reason
    )


def _dispute_won(invoice: Invoice, *, dispute, **details) -> None:
    order_dispute_closed(
        order_id=invoice.order_id, dispute_ref=dispute.stripe_id, amount=dispute.amount, won=True
    )


def _dispute_lost(invoice: Invoice, *, dispute, **details) -> None:
    order_dispute_closed(
        order_id=invoice.order_id,
        dispute_ref=dispute.stripe_id,
        amount=dispute.amount,
        won=False,
        fee_amount=dispute.fee_amount,
    )


def _describe(invoice: Invoice) -> str:
    seller = Order.objects.select_related("seller").get(pk=invoice.order_id).seller
    return f"Order #{invoice.order_id} from {seller}"


def order_invoices_register() -> None:
    invoice_owner_register(
        purpose=Invoice.Purpose.ORDER,
        lock=_lock,
        describe=_describe,
        settled=_settled,
        canceled=_canceled,
        grace_ended=_grace_ended,
        refunded=_refunded,
        refund_refused=_refund_refused,
        disputed=_disputed,
        dispute_won=_dispute_won,
        dispute_lost=_dispute_lost,
    )
