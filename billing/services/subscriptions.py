"""Subscriptions: issuing one invoice per period, and what the subscription does when one
of its invoices settles, fails or runs out of grace (registered as the owner of
subscription invoices in `BillingConfig.ready()`)."""

from django.db import transaction
from django.utils import timezone

from marketplace.exceptions import ApplicationError
from marketplace.platform_time import date_text, platform_localtime

from ..invoice_owners import invoice_owner_register
from ..models import Customer, DunningPolicy, Invoice, Plan, Subscription, Transaction
from ..periods import period_start
from .effects import email
from .invoices import Line, cancel_open_transactions, invoice_create

IS = Invoice.Status
TS = Transaction.Status
SS = Subscription.Status


def subscription_create(*, customer: Customer, plan: Plan, started_at=None) -> Subscription:
    started_at = started_at or timezone.now()
    if not plan.is_active:
        raise ApplicationError(f"The plan “{plan}” is not offered any more.")
    return Subscription.objects.create(
        customer=customer, plan=plan, started_at=started_at, next_invoice_at=started_at
    )


def _subscription_past_due(invoice: Invoice, **details) -> None:
    """One of its invoices is failing: the subscription is past due."""
    sub = Subscription.objects.select_for_update().get(pk=invoice.subscription_id)
    if sub.status == SS.ACTIVE:
        sub.mark_past_due(description=f"{invoice} failed")
        sub.save()


def _subscription_after_invoice_change(invoice: Invoice, **details) -> None:
    """Back to active when nothing the subscription billed is still unpaid."""
    sub = Subscription.objects.select_for_update().get(pk=invoice.subscription_id)
    if sub.status not in (SS.PAST_DUE, SS.UNPAID):
        return
    unpaid = (
        sub.invoices.filter(status=IS.PROCESS_FAILED).exists()
        or Transaction.objects.filter(
            invoice__subscription=sub, kind=Transaction.Kind.CHARGE, status=TS.RETRYING
        ).exists()
    )
    if not unpaid:
        done = "canceled: nothing is owed for it" if invoice.status == IS.CANCELED else "paid"
        sub.reactivate(description=f"{invoice} {done}")
        sub.save()


def subscription_cancel(*, subscription_id: int, by=None, reason: str = "") -> Subscription:
    """Cancel a subscription; its open invoices and their open transactions are canceled."""
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=subscription_id)
        subscription_cancel_check(subscription=sub)
        for invoice in (
            Invoice.objects.select_for_update()
            .filter(subscription=sub, status__in=Invoice.OPEN_STATUSES)
            .order_by("pk")
        ):
            cancel_open_transactions(invoice, by=by, reason="Subscription canceled")
            invoice.cancel(by=by, description="Subscription canceled")
            invoice.save()
        sub.cancel(by=by, description=reason or "Canceled")
        sub.save()
        email("subscription_canceled", invoice_id=None, subscription_id=sub.pk, reason=reason)
    return sub


def subscription_cancel_check(*, subscription: Subscription) -> None:
    """Raise ApplicationError when `subscription` cannot be canceled (it already is)."""
    if subscription.status == SS.CANCELED:
        raise ApplicationError("This subscription is already canceled.")


def subscriptions_yield_invoices(*, now=None) -> int:
    """Issue an invoice for every subscription period that has started, including
    periods missed while nothing ran. Returns how many invoices were issued."""
    now = now or timezone.now()
    issued = 0
    due = Subscription.objects.filter(
        status__in=[SS.ACTIVE, SS.PAST_DUE], next_invoice_at__lte=now
    ).values_list("pk", flat=True)
    for sub_id in list(due):
        with transaction.atomic():
            sub = Subscription.objects.select_for_update().select_related("plan", "customer").get(pk=sub_id)
            if sub.status not in (SS.ACTIVE, SS.PAST_DUE):
                continue
            plan = sub.plan
            while sub.next_invoice_at <= now:
                k = sub.periods_invoiced
                start = period_start(sub.started_at, plan.interval_unit, plan.interval_count, k)
                end = period_start(sub.started_at, plan.interval_unit, plan.interval_count, k + 1)
                invoice_create(
                    customer=sub.customer,
                    currency=plan.currency,
                    lines=[Line(f"{plan.name}, {_day(start)} to {_day(end)}", 1, plan.amount)],
                    subscription=sub,
                    period_index=k,
                    period_start_at=start,
                    period_end_at=end,
                )
                sub.periods_invoiced = k + 1
                sub.next_invoice_at = end
                issued += 1
            sub.save(update_fields=["periods_invoiced", "next_invoice_at"])
    return issued


def _final_action(invoice: Invoice, **details) -> None:
    """An invoice of the subscription ran out of grace: the dunning policy's final action."""
    action = (invoice.dunning or DunningPolicy.load().snapshot())["final_action"]
    if action == DunningPolicy.FinalAction.CANCEL:
        subscription_cancel(subscription_id=invoice.subscription_id, reason=f"{invoice} was never paid")
    elif action == DunningPolicy.FinalAction.UNPAID:
        sub = Subscription.objects.select_for_update().get(pk=invoice.subscription_id)
        if sub.status == SS.PAST_DUE:
            sub.mark_unpaid(description=f"{invoice} was never paid")
            sub.save()


def _subscription_lock(invoice: Invoice) -> None:
    Subscription.objects.select_for_update().filter(pk=invoice.subscription_id).first()


def _day(moment) -> str:
    """A period's boundary as the day the customer lives it (the platform timezone)."""
    return date_text(moment)


def _describe(invoice: Invoice) -> str:
    plan = invoice.subscription.plan.name
    if invoice.period_start and invoice.period_end:
        start, end = platform_localtime(invoice.period_start), platform_localtime(invoice.period_end)
        return f"Your {plan} subscription, {date_text(start)} to {date_text(end)}"
    return f"Your {plan} subscription"


def subscription_invoices_register() -> None:
    """Billing owns subscription invoices too; called from `BillingConfig.ready()`."""
    invoice_owner_register(
        purpose=Invoice.Purpose.SUBSCRIPTION,
        lock=_subscription_lock,
        describe=_describe,
        settled=_subscription_after_invoice_change,
        payment_resumed=_subscription_after_invoice_change,
        payment_retrying=_subscription_past_due,
        payment_failed=_subscription_past_due,
        grace_ended=_final_action,
        # Staff canceled a failing invoice (the debt is forgiven): the subscription is no
        # longer past due because of it.
        canceled=_subscription_after_invoice_change,
    )
