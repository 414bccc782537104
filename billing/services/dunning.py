"""Failed invoices: the customer is told, the grace period runs, and when it ends the
invoice's owner takes its final action (an order is canceled, a subscription gets the
dunning policy's final action)."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .. import declines
from ..invoice_owners import InvoiceEvent, invoice_lock, invoice_owner_notify
from ..models import DunningPolicy, Invoice
from .effects import email

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
        with transaction.atomic():
            invoice = invoice_lock(invoice_id=invoice_id)
            if invoice.status != IS.PROCESS_FAILED or invoice.final_action_taken_at:
                continue
            invoice.final_action_taken_at = now
            invoice.save(update_fields=["final_action_taken_at"])
            invoice_owner_notify(invoice, InvoiceEvent.GRACE_ENDED)
            done += 1
    return done
