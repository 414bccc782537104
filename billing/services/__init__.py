"""
Every change to billing goes through these services (DESIGN.md 3.2), one module per
subject:

- `customers`: billing customers and their Stripe ids;
- `payment_methods`: saving a card and collecting every waiting invoice with it;
- `invoices`: issuing, canceling, retrying and refunding invoices;
- `charging`: one attempt at a charge or refund (claim, call Stripe, record);
- `authentication`: payments the customer's bank wants confirmed, late successes;
- `dunning`: failed invoices, grace periods and final actions;
- `subscriptions`: one invoice per period, and the subscription as an invoice owner;
- `effects`: what billing sends after commit.

The processing loop is `billing.processing`; reads are in `billing.selectors`; how billing
tells an invoice's owner what happened is `billing.invoice_owners`. The names below stay
importable from `billing.services`, as they always were.
"""

from marketplace.exceptions import ApplicationError

from ..processing import ProcessReport, transactions_process_due
from ..selectors import invoice_attempt_awaiting_authentication, transactions_due_ids
from .authentication import attempt_reconcile_success, invoice_payment_authenticated
from .charging import (
    AUTHENTICATION_REQUIRED,
    IN_FLIGHT_GRACE,
    TRANSPORT_BACKOFF_MAX,
    AttemptReport,
    AttemptResult,
    attempt_record,
    transaction_attempt,
)
from .customers import customer_get_or_create, customer_stripe_id
from .dunning import invoices_apply_grace
from .invoices import (
    INVOICE_OPEN,
    Line,
    invoice_cancel,
    invoice_cancel_check,
    invoice_create,
    invoice_refund,
    invoice_refund_check,
    invoice_retry_now,
    invoice_retry_now_check,
)
from .payment_methods import payment_method_add
from .subscriptions import (
    subscription_cancel,
    subscription_cancel_check,
    subscription_create,
    subscriptions_yield_invoices,
)

__all__ = [
    "ApplicationError",
    "AUTHENTICATION_REQUIRED",
    "IN_FLIGHT_GRACE",
    "INVOICE_OPEN",
    "TRANSPORT_BACKOFF_MAX",
    "AttemptReport",
    "AttemptResult",
    "Line",
    "ProcessReport",
    "attempt_reconcile_success",
    "attempt_record",
    "customer_get_or_create",
    "customer_stripe_id",
    "invoice_attempt_awaiting_authentication",
    "invoice_cancel",
    "invoice_cancel_check",
    "invoice_create",
    "invoice_payment_authenticated",
    "invoice_refund",
    "invoice_refund_check",
    "invoice_retry_now",
    "invoice_retry_now_check",
    "invoices_apply_grace",
    "payment_method_add",
    "subscription_cancel",
    "subscription_cancel_check",
    "subscription_create",
    "subscriptions_yield_invoices",
    "transaction_attempt",
    "transactions_due_ids",
    "transactions_process_due",
]
