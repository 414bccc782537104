"""
Who an invoice is for, and how billing tells them what happened to it.

Billing issues invoices for other parts of the product (an order's payment, a period of a
subscription, a one-off charge) but knows none of them. Each purpose registers one owner
here, in its app's `AppConfig.ready()`: a function that locks the owner's row, and one
handler per invoice event it cares about. Billing calls them inside the transaction that
changed the invoice, so the owner's state and the invoice's can never disagree.

Lock order (the rule is written out in `marketplace/locking.py`): the owner's row is
locked before the invoice, and the invoice before its transactions and their attempts.
`invoice_lock` is the one way billing locks an invoice, so it follows the rule everywhere.
"""

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from .models import Invoice


class InvoiceEvent(enum.StrEnum):
    """What can happen to an invoice that its owner may need to act on."""

    SETTLED = "settled"  # the money arrived (or nothing was owed)
    PAYMENT_RESUMED = "payment_resumed"  # a new card is being charged after a failure
    PAYMENT_RETRYING = "payment_retrying"  # a soft decline; the next try is scheduled
    PAYMENT_FAILED = "payment_failed"  # failed for now; the customer must act
    GRACE_ENDED = "grace_ended"  # failed for good: the owner takes its final action
    CANCELED = "canceled"  # nothing will be collected
    REFUNDED = "refunded"  # Stripe confirmed a refund (full or partial)
    REFUND_REFUSED = "refund_refused"  # Stripe refused a refund
    DISPUTED = "disputed"  # the customer's bank opened a dispute
    DISPUTE_WON = "dispute_won"  # closed in the platform's favour: the money stays
    DISPUTE_LOST = "dispute_lost"  # closed against it: the money went back to the customer


Handler = Callable[..., None]


@dataclass(frozen=True)
class InvoiceOwner:
    purpose: str
    lock: Callable[[Invoice], None]
    handlers: dict[InvoiceEvent, Handler] = field(default_factory=dict)
    describe: Callable[[Invoice], str] | None = None


_OWNERS: dict[str, InvoiceOwner] = {}


def invoice_owner_register(
    *,
    purpose: str,
    lock: Callable[[Invoice], None],
    describe: Callable[[Invoice], str] | None = None,
    **handlers: Handler,
) -> None:
    """Register the owner of invoices of `purpose` (one of `Invoice.Purpose`). `lock`
    receives an unlocked invoice and locks the owner's row; `describe` says in the
    customer's words what the invoice is for ("Order #12 from Sam's Shop"); each keyword names an
    `InvoiceEvent` (`settled=...`, `grace_ended=...`) and gives its handler, called as
    `handler(invoice, **details)` with the invoice locked."""
    if purpose not in Invoice.Purpose.values:
        raise ValueError(f"Unknown invoice purpose {purpose!r}")
    if purpose in _OWNERS:
        raise ValueError(f"Invoices of purpose {purpose!r} already have an owner")
    _OWNERS[purpose] = InvoiceOwner(
        purpose=purpose,
        lock=lock,
        handlers={InvoiceEvent(name): fn for name, fn in handlers.items()},
        describe=describe,
    )


def invoice_lock(*, invoice_id: int) -> Invoice:
    """Lock an invoice for a change, its owner's row first (the platform's lock order)."""
    unlocked = Invoice.objects.only("pk", "order_id", "subscription_id").get(pk=invoice_id)
    owner = _OWNERS.get(unlocked.purpose)
    if owner is not None:
        owner.lock(unlocked)
    return Invoice.objects.select_for_update().get(pk=invoice_id)


def invoice_owner_notify(invoice: Invoice, event: InvoiceEvent, **details) -> None:
    """Tell the invoice's owner what happened. The caller holds the invoice's lock (taken
    through `invoice_lock`) and its transaction; a purpose with no handler for the event
    needs nothing done."""
    owner = _OWNERS.get(invoice.purpose)
    handler = owner.handlers.get(event) if owner else None
    if handler is not None:
        handler(invoice, **details)


def invoice_describe(invoice: Invoice) -> str:
    """What the invoice is for, in the customer's words, for the card page, receipts and
    emails: its owner's description, else its lines ("Invoice #7: Setup fee")."""
    owner = _OWNERS.get(invoice.purpose)
    if owner is not None and owner.describe is not None:
        return owner.describe(invoice)
    lines = [line.description for line in invoice.lines.all()]
    return f"Invoice #{invoice.pk}" + (f": {', '.join(lines)}" if lines else "")
