"""Failed invoices: the customer is told, the grace period runs, and when it ends the
invoice's owner takes its final action (an order is canceled, a subscription gets the
dunning policy's final action)."""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from marketplace.exceptions import ApplicationError

from .. import declines
from ..invoice_owners import InvoiceEvent, invoice_lock, invoice_owner_notify
from ..models import DunningPolicy, Invoice
from .effects import email

logger = logging.getLogger(__name__)
IS = Invoice.Status


def invoice_failed(invoice: Invoice, *, reason: str, category: str, authenticate: bool = False) -> None:
    policy = invoice.dunning or DunningPolicy.load().snapshot()
    grace_ends = timezone.now() + timedelta(days=policy["grace_period_days"])
    invoice.fail(description=reason[:300], grace_ends_at=grace_ends)
    invoice.save()
    invoice_owner_notify(invoice, InvoiceEvent.PAYMENT_FAILED)
    if category == declines.SOFT:
        email("final_notice", invoice_id=invoice.pk, reason=reason, grace_ends_at=grace_ends.isoformat())
    else:
        email(
            "action_required",
            invoice_id=invoice.pk,
            reason=reason,
            grace_ends_at=grace_ends.isoformat(),
            authenticate=authenticate,
        )


def invoices_apply_grace(*, now=None) -> int:
    """Invoices that failed for good and whose grace period ended: their owners take
    their final action (an unpaid order is canceled; a subscription gets the dunning
    policy's final action)."""
    now = now or timezone.now()
    done = 0
    ids = Invoice.objects.filter(
        status=IS.PROCESS_FAILED, grace_ends_at__lte=now, final_action_taken_at__isnull=True
    ).values_list("pk", flat=True)
    for invoice_id in list(ids):
        # One invoice whose final action cannot be taken yet (a charge of it still waits for
        # Stripe's answer) is tried again next run; it never holds up the others, nor the
        # charging that follows in the loop.
        try:
            with transaction.atomic():
                invoice = invoice_lock(invoice_id=invoice_id)
                if invoice.status != IS.PROCESS_FAILED or invoice.final_action_taken_at:
                    continue
                invoice.final_action_taken_at = now
                invoice.save(update_fields=["final_action_taken_at"])
                invoice_owner_notify(invoice, InvoiceEvent.GRACE_ENDED)
        except ApplicationError as exc:
            logger.warning("The final action on invoice %s waits for the next run: %s", invoice_id, exc)
            continue
        except Exception:
            logger.exception("The final action on invoice %s failed; tried again next run", invoice_id)
            continue
        done += 1
    return done
