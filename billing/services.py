"""
Every change to billing goes through these services (DESIGN.md 3.2).

Charging one transaction is three steps, so that no database lock is held while Stripe
thinks and no answer is ever lost:

1. In a short database transaction: lock the transaction row, check it is still due and
   that nothing else is collecting the invoice, and write an Attempt row with its
   idempotency key (outcome `unknown`). Commit. The loop does this for a batch of
   transactions at once; a single transaction is a batch of one.
2. Call Stripe with that key (billing.gateway), outside any database transaction.
3. In a second short database transaction: record the raw answer on the attempt, classify
   it (billing.declines) and move the transaction, the invoice and whatever hangs on the
   invoice (the order, the subscription). Emails go out after commit.

If the process dies between 1 and 3, the attempt stays `unknown` and the next run sends
the same request again with the same key: Stripe answers with the original result
instead of charging twice. While an attempt is `unknown`, nothing starts another charge
for its invoice.
"""

import logging
import queue
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from marketplace.exceptions import ApplicationError
from marketplace.money import format_money

from . import declines, gateway
from .models import (
    Attempt,
    Customer,
    DunningPolicy,
    Invoice,
    InvoiceLine,
    PaymentMethod,
    Plan,
    ProcessingLease,
    Subscription,
    Transaction,
)
from .periods import period_start

logger = logging.getLogger(__name__)
IS = Invoice.Status
INVOICE_OPEN = (IS.INIT, IS.PROCESSING, IS.PROCESS_FAILED)
TS = Transaction.Status
SS = Subscription.Status

# An unknown attempt younger than this may still be in flight in another worker.
IN_FLIGHT_GRACE = timedelta(seconds=120)
# Backoff for gateway trouble between runs: 1, 2, 4 ... minutes, at most an hour.
TRANSPORT_BACKOFF_MAX = timedelta(hours=1)


def _queue_after_commit(task, *args, trouble: str, **kwargs) -> None:
    """Queue a Celery task once this database transaction commits (never for a change
    that rolls back). If the broker cannot take it, log `trouble` and go on: the change
    itself stands."""

    def queue_it():
        try:
            task.delay(*args, **kwargs)
        except Exception:
            logger.exception("%s", trouble)

    transaction.on_commit(queue_it)


def _email(kind: str, *, invoice_id: int | None = None, **context) -> None:
    from .tasks import send_billing_email

    _queue_after_commit(
        send_billing_email,
        kind,
        invoice_id=invoice_id,
        **context,
        trouble=f"Could not queue the {kind} email for invoice {invoice_id}",
    )


def _withdraw_bank_confirmation(invoice: Invoice) -> None:
    """The invoice stops waiting for the customer's bank (another card pays it, or it is
    canceled): after commit, cancel that PaymentIntent at Stripe, so that a page left open
    cannot confirm it and charge the customer a second time."""
    attempt = invoice_attempt_awaiting_authentication(invoice)
    if attempt is None:
        return
    from .tasks import withdraw_bank_confirmation

    _queue_after_commit(
        withdraw_bank_confirmation,
        attempt.stripe_id,
        invoice.pk,
        trouble=f"Could not queue the cancel of {attempt.stripe_id} for {invoice}",
    )


def _attempt_soon(txn_id: int) -> None:
    """Charge a transaction as soon as this database transaction commits (if it cannot be
    queued, the every-minute loop picks it up anyway)."""
    from .tasks import attempt_transaction

    _queue_after_commit(
        attempt_transaction,
        txn_id,
        trouble=f"Could not queue transaction {txn_id}; process_transactions will.",
    )


# --- customers and payment methods -----------------------------------------------------


def customer_get_or_create(*, user) -> Customer:
    customer, _ = Customer.objects.get_or_create(user=user)
    return customer


def customer_stripe_id(*, customer: Customer) -> str:
    """The customer's Stripe id, creating the Stripe customer (idempotently) if needed."""
    if customer.stripe_customer_id:
        return customer.stripe_customer_id
    stripe_id = gateway.customer_create(
        email=customer.user.email,
        user_id=customer.user_id,
        idempotency_key=f"{settings.STRIPE_IDEMPOTENCY_NAMESPACE}:customer-{customer.pk}",
    )
    Customer.objects.filter(pk=customer.pk, stripe_customer_id__isnull=True).update(
        stripe_customer_id=stripe_id
    )
    customer.refresh_from_db(fields=["stripe_customer_id"])
    return customer.stripe_customer_id


def payment_method_add(*, customer: Customer, stripe_payment_method_id: str, by=None) -> PaymentMethod:
    """Save a card the customer entered (a Stripe PaymentMethod id made by Elements), make
    it the default, and resume collecting every invoice waiting on a payment method."""
    stripe_payment_method_id = (stripe_payment_method_id or "").strip()
    if not stripe_payment_method_id.startswith("pm_"):
        raise ApplicationError("The card could not be read. Enter it again.")
    try:
        card = gateway.payment_method_attach(
            payment_method_id=stripe_payment_method_id, customer_id=customer_stripe_id(customer=customer)
        )
    except gateway.GatewayUnavailable as exc:
        raise ApplicationError(
            "The payment service is not answering right now. Try again in a minute."
        ) from exc
    except gateway.stripe.StripeError as exc:
        decline = declines.classify_stripe_error(exc.json_body or {})
        raise ApplicationError(f"That card was not accepted: {decline.message}") from exc
    with transaction.atomic():
        pm, _ = PaymentMethod.objects.update_or_create(
            stripe_id=card.stripe_id,
            defaults={
                "customer": customer,
                "brand": card.brand,
                "last4": card.last4,
                "exp_month": card.exp_month,
                "exp_year": card.exp_year,
                "fingerprint": card.fingerprint,
            },
        )
        Customer.objects.filter(pk=customer.pk).update(default_payment_method=pm)
        customer.default_payment_method = pm
        for invoice_id in (
            Invoice.objects.filter(customer=customer, status__in=[IS.INIT, IS.PROCESSING, IS.PROCESS_FAILED])
            .order_by("created_at", "id")
            .values_list("id", flat=True)
        ):
            _collect_with(invoice_id=invoice_id, payment_method=pm, by=by)
    return pm


def _collect_with(*, invoice_id: int, payment_method: PaymentMethod, by=None) -> None:
    """Point an open invoice at a new payment method and charge it at once. Open charges
    on the old card are canceled, except one whose outcome is still unknown: that one is
    resolved first (same key), and the switch happens when its answer comes."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
    if invoice.status not in (IS.INIT, IS.PROCESSING, IS.PROCESS_FAILED) or invoice.is_zero():
        return
    open_charges = list(
        Transaction.objects.select_for_update().filter(
            invoice=invoice, kind=Transaction.Kind.CHARGE, status__in=Transaction.OPEN_STATUSES
        )
    )
    unknown = Attempt.objects.filter(
        transaction__in=open_charges, outcome=Attempt.Outcome.UNKNOWN
    ).values_list("transaction_id", flat=True)
    unknown = set(unknown)
    for txn in open_charges:
        if txn.pk not in unknown:
            txn.cancel(by=by, description="Payment method replaced")
            txn.save()
    if invoice.status == IS.PROCESSING:
        invoice.payment_method = payment_method
        invoice.save(update_fields=["payment_method"])
    else:
        _withdraw_bank_confirmation(invoice)
        invoice.process(by=by, description=f"Paying with {payment_method}", payment_method=payment_method)
        if invoice.dunning is None:
            invoice.dunning = DunningPolicy.load().snapshot()
        invoice.save()
    if not unknown:
        _charge_soon(invoice, payment_method)
    _subscription_after_invoice_change(invoice)


def _charge_soon(invoice: Invoice, payment_method: PaymentMethod) -> Transaction:
    """A new charge of the whole invoice on `payment_method`, attempted after commit."""
    txn = Transaction.objects.create(
        invoice=invoice,
        kind=Transaction.Kind.CHARGE,
        amount=invoice.total_amount,
        currency=invoice.currency,
        payment_method=payment_method,
    )
    _attempt_soon(txn.pk)
    return txn


# --- invoices --------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    description: str
    quantity: int
    unit_amount: int


def invoice_create(
    *,
    customer: Customer,
    currency: str,
    lines: list[Line],
    order=None,
    subscription=None,
    period_index=None,
    period_start_at=None,
    period_end_at=None,
) -> Invoice:
    """Issue an invoice and start collecting it: a zero total settles at once; with a
    usable saved card it is charged as soon as this transaction commits; without one the
    customer is asked for a card."""
    if not lines:
        raise ApplicationError("An invoice needs at least one line.")
    if any(line.quantity < 1 or line.unit_amount < 0 for line in lines):
        raise ApplicationError(
            "Each invoice line needs a quantity of at least 1 and an amount of zero or more."
        )
    with transaction.atomic():
        invoice = Invoice.objects.create(
            customer=customer,
            currency=currency.upper(),
            total_amount=sum(line.quantity * line.unit_amount for line in lines),
            order=order,
            subscription=subscription,
            period_index=period_index,
            period_start=period_start_at,
            period_end=period_end_at,
        )
        InvoiceLine.objects.bulk_create(
            InvoiceLine(
                invoice=invoice,
                description=line.description[:300],
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                amount=line.quantity * line.unit_amount,
            )
            for line in lines
        )
        _invoice_start(invoice)
    return invoice


def _invoice_start(invoice: Invoice) -> None:
    if invoice.is_zero():
        invoice.settle_zero(description="Nothing to pay")
        invoice.save()
        _after_settled(invoice)
        return
    pm = (
        Customer.objects.select_related("default_payment_method")
        .get(pk=invoice.customer_id)
        .default_payment_method
    )
    if pm is not None and pm.usable:
        invoice.dunning = DunningPolicy.load().snapshot()
        invoice.process(description=f"Paying with {pm}", payment_method=pm)
        invoice.save()
        _charge_soon(invoice, pm)
    else:
        _email(
            "action_required", invoice_id=invoice.pk, reason="There is no card on file to pay this invoice."
        )


def invoice_cancel(*, invoice_id: int, by=None, reason: str = "") -> Invoice:
    """Cancel an unpaid invoice and its open charges. A charge whose outcome is still
    unknown blocks this: it may have gone through."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        if invoice.status not in (IS.INIT, IS.PROCESSING, IS.PROCESS_FAILED):
            raise ApplicationError(
                f"{invoice} is {invoice.get_status_display().lower()}: it cannot be canceled."
            )
        _cancel_open_transactions(invoice, by=by, reason=reason or "Invoice canceled")
        invoice.cancel(by=by, description=reason or None)
        invoice.save()
    return invoice


def _cancel_open_transactions(invoice: Invoice, *, by, reason: str) -> None:
    txns = list(
        Transaction.objects.select_for_update().filter(invoice=invoice, status__in=Transaction.OPEN_STATUSES)
    )
    if Attempt.objects.filter(transaction__in=txns, outcome=Attempt.Outcome.UNKNOWN).exists():
        raise ApplicationError(
            f"A charge of {invoice} is still waiting for the payment service's answer. Try again in a few minutes."
        )
    _withdraw_bank_confirmation(invoice)
    for txn in txns:
        txn.cancel(by=by, description=reason)
        txn.save()


def invoice_retry_now(*, invoice_id: int, by=None) -> Invoice:
    """Admin: charge a failing invoice now instead of on its schedule."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        txn = (
            Transaction.objects.select_for_update()
            .filter(invoice=invoice, kind=Transaction.Kind.CHARGE, status__in=Transaction.OPEN_STATUSES)
            .first()
        )
        if txn is not None:
            txn.next_attempt_at = timezone.now()
            txn.save(update_fields=["next_attempt_at"])
            _attempt_soon(txn.pk)
            return invoice
        if invoice.status == IS.PROCESS_FAILED and invoice.payment_method and invoice.payment_method.usable:
            _collect_with(invoice_id=invoice.pk, payment_method=invoice.payment_method, by=by)
            return invoice
        raise ApplicationError(
            f"{invoice} has nothing to retry: it is {invoice.get_status_display().lower()}"
            + (" and its card may not be charged again." if invoice.status == IS.PROCESS_FAILED else ".")
        )


def invoice_refund(*, invoice_id: int, amount: int | None = None, by=None, reason: str = "") -> Transaction:
    """Refund a settled invoice, in full (amount None) or in part. The refund is retried
    while Stripe is unreachable until it goes through."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        if invoice.status != IS.SETTLED:
            raise ApplicationError(
                f"{invoice} is {invoice.get_status_display().lower()}: only a settled invoice can be refunded."
            )
        amount = invoice.refundable_amount if amount is None else amount
        if not isinstance(amount, int) or amount <= 0:
            raise ApplicationError("The refund amount must be more than zero.")
        if amount > invoice.refundable_amount:
            raise ApplicationError(
                f"At most {format_money(invoice.refundable_amount, invoice.currency)} of {invoice} can still be refunded."
            )
        charge = invoice.transactions.filter(kind=Transaction.Kind.CHARGE, status=TS.DONE).first()
        invoice.start_refund(by=by, description=reason or None)
        invoice.save()
        if charge is None:  # a zero invoice: nothing went through Stripe, nothing to send back
            full = amount == invoice.refundable_amount
            (invoice.finish_full_refund if full else invoice.finish_partial_refund)(
                by=by, description=reason or None, amount=amount
            )
            invoice.save()
            return None
        txn = Transaction.objects.create(
            invoice=invoice,
            kind=Transaction.Kind.REFUND,
            amount=amount,
            currency=invoice.currency,
            refund_of=charge,
            reason=reason[:300],
        )
        _attempt_soon(txn.pk)
    return txn


# --- one attempt -----------------------------------------------------------------------


@dataclass
class AttemptReport:
    transaction_id: int
    result: str  # done, retrying, failed, gateway, skipped, waiting


def _key(txn: Transaction, number: int) -> str:
    return f"{settings.STRIPE_IDEMPOTENCY_NAMESPACE}:txn-{txn.pk}:attempt-{number}"


def _claim(txn_id: int, now) -> tuple[Transaction, Attempt] | str:
    """Step 1 for one transaction. Returns (transaction, attempt) to send, or why not."""
    claimed, why = _claim_many([txn_id], now)
    return claimed[0] if claimed else why[txn_id]


def _claim_many(ids: list[int], now) -> tuple[list[tuple[Transaction, Attempt]], dict[int, str]]:
    """Step 1 for several transactions in one database transaction: lock them (in id
    order, so two claimers wait for each other instead of deadlocking), read what else is
    going on with their invoices, and insert the new attempts together. Returns the
    (transaction, attempt) pairs to send and, for the others, why not."""
    claimed, why, new = [], {}, []
    with transaction.atomic():
        locked = list(
            Transaction.objects.select_for_update(of=("self",))
            .select_related("invoice__customer", "payment_method", "refund_of")
            .filter(pk__in=ids)
            .order_by("pk")
        )
        due = [t for t in locked if t.status in Transaction.OPEN_STATUSES and t.next_attempt_at <= now]
        why.update(dict.fromkeys(set(ids) - {t.pk for t in due}, "skipped"))
        facts = _claim_facts([t.pk for t in due])
        charging: set[int] = set()  # invoices this batch is charging
        for txn in due:
            decided = _claim_decide(txn, facts[txn.pk], now, charging)
            if isinstance(decided, str):
                why[txn.pk] = decided
                continue
            if decided.pk is None:
                new.append(decided)
            claimed.append((txn, decided))
        Attempt.objects.bulk_create(new)
    return claimed, why


def _claim_decide(txn: Transaction, facts: dict, now, charging: set[int]) -> Attempt | str:
    """The attempt to send for a locked, due transaction (a new one is not saved yet), or
    why there is none."""
    is_charge = txn.kind == Transaction.Kind.CHARGE
    if facts["last_outcome"] == Attempt.Outcome.UNKNOWN:
        attempt = Attempt.objects.get(pk=facts["last_id"])
        if attempt.started_at > now - IN_FLIGHT_GRACE and attempt.calls == 0:
            return "waiting"  # another worker is sending it right now
        # Resend the same request with the same key.
        Attempt.objects.filter(pk=attempt.pk).update(started_at=now)
        if is_charge:
            charging.add(txn.invoice_id)
        return attempt
    if is_charge:
        if facts["sibling_done"]:
            txn.cancel(description="The invoice was already paid by another charge")
            txn.save()
            return "skipped"
        if facts["sibling_unknown"] or txn.invoice_id in charging:
            txn.next_attempt_at = now + timedelta(minutes=1)
            txn.save(update_fields=["next_attempt_at"])
            return "waiting"
        if txn.payment_method is None or not txn.payment_method.usable:
            _charge_failed_without_card(txn)
            return "failed"
        charging.add(txn.invoice_id)
    number = (facts["last_number"] or 0) + 1
    return Attempt(transaction=txn, number=number, idempotency_key=_key(txn, number), started_at=now)


def _claim_facts(ids: list[int]) -> dict[int, dict]:
    """What the claim needs to know besides the locked rows, read in one query. It runs
    after the lock is taken: a statement sees what was committed when it started, so
    reading these together with the lock could miss the attempt of a claim that held the
    lock while this one waited for it."""
    if not ids:
        return {}
    last = Attempt.objects.filter(transaction_id=OuterRef("pk")).order_by("-number")
    other_charges = Transaction.objects.filter(
        invoice_id=OuterRef("invoice_id"), kind=Transaction.Kind.CHARGE
    ).exclude(pk=OuterRef("pk"))
    rows = Transaction.objects.filter(pk__in=ids).values(
        "pk",
        last_id=Subquery(last.values("pk")[:1]),
        last_number=Subquery(last.values("number")[:1]),
        last_outcome=Subquery(last.values("outcome")[:1]),
        sibling_done=Exists(other_charges.filter(status=TS.DONE)),
        sibling_unknown=Exists(
            Attempt.objects.filter(
                transaction__invoice_id=OuterRef("invoice_id"),
                transaction__kind=Transaction.Kind.CHARGE,
                outcome=Attempt.Outcome.UNKNOWN,
            ).exclude(transaction_id=OuterRef("pk"))
        ),
    )
    return {row["pk"]: row for row in rows}


def _charge_failed_without_card(txn: Transaction) -> None:
    invoice = Invoice.objects.select_for_update().get(pk=txn.invoice_id)
    txn.fail(description="No usable card", counted=False)
    txn.save()
    _invoice_failed(invoice, reason="The card on file may not be charged again.", category=declines.HARD)


def _send(txn: Transaction, attempt: Attempt) -> gateway.GatewayResult:
    """Step 2: outside any database transaction."""
    if txn.kind == Transaction.Kind.CHARGE:
        invoice = txn.invoice
        return gateway.charge(
            amount=txn.amount,
            currency=txn.currency,
            customer_id=customer_stripe_id(customer=invoice.customer),
            payment_method_id=txn.payment_method.stripe_id,
            idempotency_key=attempt.idempotency_key,
            metadata={
                "invoice": str(invoice.pk),
                "transaction": str(txn.pk),
                "attempt": attempt.idempotency_key,
            },
        )
    return gateway.refund(
        payment_intent_id=txn.refund_of.stripe_id,
        amount=txn.amount,
        idempotency_key=attempt.idempotency_key,
        metadata={
            "invoice": str(txn.invoice_id),
            "transaction": str(txn.pk),
            "attempt": attempt.idempotency_key,
        },
    )


def transaction_attempt(*, transaction_id: int, now=None) -> AttemptReport:
    """Attempt one due transaction (charge or refund): claim, call Stripe, record."""
    now = now or timezone.now()
    claimed = _claim(transaction_id, now)
    if isinstance(claimed, str):
        return AttemptReport(transaction_id, claimed)
    return AttemptReport(transaction_id, _send_and_record(*claimed, now))


def _send_and_record(txn: Transaction, attempt: Attempt, now) -> str:
    """Steps 2 and 3 for a claimed attempt."""
    try:
        result = _send(txn, attempt)
    except gateway.GatewayUnavailable as exc:
        _record_transport_trouble(txn.pk, attempt.pk, exc, now)
        return "gateway"
    return attempt_record(attempt_id=attempt.pk, result=result, now=now)


def _record_transport_trouble(txn_id, attempt_id, exc, now) -> None:
    with transaction.atomic():
        txn = Transaction.objects.select_for_update().get(pk=txn_id)
        attempt = Attempt.objects.select_for_update().get(pk=attempt_id)
        attempt.calls += settings.STRIPE_TRANSPORT_RETRIES + 1
        attempt.http_status = exc.http_status
        attempt.message = str(exc)[:2000]
        attempt.category = declines.GATEWAY
        attempt.decision = "gateway: no proper answer; the same request will be sent again with the same key"
        attempt.save()
        txn.transport_failures += 1
        wait = min(timedelta(minutes=2 ** (txn.transport_failures - 1)), TRANSPORT_BACKOFF_MAX)
        txn.next_attempt_at = now + wait
        txn.last_category = declines.GATEWAY
        txn.last_message = (
            f"The payment service did not answer; trying again at {txn.next_attempt_at:%Y-%m-%d %H:%M} UTC."
        )
        txn.save(update_fields=["transport_failures", "next_attempt_at", "last_category", "last_message"])


def _store_raw(attempt: Attempt, result: gateway.GatewayResult, now) -> declines.Decline | None:
    attempt.calls += result.calls
    attempt.http_status = result.http_status
    attempt.stripe_id = result.stripe_id or attempt.stripe_id
    attempt.finished_at = now
    if result.ok:
        attempt.outcome = Attempt.Outcome.SUCCEEDED
        attempt.decision = "succeeded"
        return None
    error = result.error.get("error", result.error) if isinstance(result.error, dict) else {}
    attempt.error_type = str(error.get("type") or "")[:100]
    attempt.code = str(error.get("code") or "")[:100]
    attempt.decline_code = str(error.get("decline_code") or "")[:100]
    attempt.advice_code = str(error.get("advice_code") or "")[:100]
    attempt.network_advice_code = str(error.get("network_advice_code") or "")[:20]
    attempt.network_decline_code = str(error.get("network_decline_code") or "")[:20]
    attempt.message = str(error.get("message") or "")[:2000]
    decline = declines.classify_stripe_error(result.error)
    attempt.category = decline.category
    attempt.outcome = (
        Attempt.Outcome.DECLINED
        if attempt.error_type == "card_error" or result.status
        else Attempt.Outcome.ERROR
    )
    return decline


def attempt_record(*, attempt_id: int, result: gateway.GatewayResult, now=None) -> str:
    """Step 3: record Stripe's answer and move the transaction and its invoice. Also used
    by webhooks and reconciliation; an attempt whose outcome is known is left alone."""
    now = now or timezone.now()
    with transaction.atomic():
        # The attempt, its transaction and its invoice, locked in one query.
        attempt = (
            Attempt.objects.select_for_update(of=("self", "transaction", "transaction__invoice"))
            .select_related("transaction__invoice__customer")
            .get(pk=attempt_id)
        )
        txn = attempt.transaction
        invoice = txn.invoice
        if attempt.outcome != Attempt.Outcome.UNKNOWN:
            return "skipped"
        decline = _store_raw(attempt, result, now)
        if decline is not None and decline.category == declines.GATEWAY:
            # Stripe answered but not with a decision (e.g. our key was refused): same attempt later.
            attempt.outcome = Attempt.Outcome.UNKNOWN
            attempt.decision = f"gateway: {decline.message} The same request will be sent again."
            attempt.save()
            txn.transport_failures += 1
            txn.next_attempt_at = now + min(
                timedelta(minutes=2 ** (txn.transport_failures - 1)), TRANSPORT_BACKOFF_MAX
            )
            txn.last_category, txn.last_message = declines.GATEWAY, decline.message[:500]
            txn.save()
            return "gateway"
        if txn.kind == Transaction.Kind.CHARGE:
            outcome = _charge_answered(txn, invoice, attempt, decline, now)
        else:
            outcome = _refund_answered(txn, invoice, attempt, decline)
        attempt.save()
        return outcome


AUTHENTICATION_REQUIRED = "authentication_required"


def invoice_attempt_awaiting_authentication(invoice: Invoice) -> Attempt | None:
    """The charge attempt of a failed invoice that the customer's bank wants them to
    confirm (3-D Secure on an off-session payment), if that is why it failed."""
    if invoice.status != IS.PROCESS_FAILED:
        return None
    last = (
        Attempt.objects.filter(transaction__invoice=invoice, transaction__kind=Transaction.Kind.CHARGE)
        .order_by("-started_at", "-pk")
        .first()
    )
    if last is None or not last.stripe_id or last.outcome != Attempt.Outcome.DECLINED:
        return None
    return last if AUTHENTICATION_REQUIRED in (last.code, last.decline_code) else None


def invoice_payment_authenticated(*, invoice_id: int, payment_intent_id: str) -> str:
    """The customer confirmed the payment with their bank in the browser: read the
    PaymentIntent back from Stripe and, if it went through, settle the invoice."""
    invoice = Invoice.objects.get(pk=invoice_id)
    attempt = invoice_attempt_awaiting_authentication(invoice)
    if attempt is None or attempt.stripe_id != payment_intent_id:
        raise ApplicationError("This payment is not waiting for your bank any more. Reload the page.")
    result = gateway.payment_intent_retrieve(payment_intent_id)
    if not result.ok:
        raise ApplicationError(
            "Your bank did not confirm the payment, so nothing was charged. "
            "Try again, or add another card below."
        )
    return attempt_reconcile_success(attempt_id=attempt.pk, result=result)


def attempt_reconcile_success(*, attempt_id: int, result: gateway.GatewayResult) -> str:
    """Stripe says a charge we had recorded as declined went through after all (the
    customer completed 3-D Secure later). Record the money; settle the invoice if it is
    still waiting for it; otherwise leave it for ops, loudly."""
    with transaction.atomic():
        attempt = Attempt.objects.select_for_update().get(pk=attempt_id)
        old = Transaction.objects.select_for_update().get(pk=attempt.transaction_id)
        invoice = Invoice.objects.select_for_update().get(pk=old.invoice_id)
        if attempt.outcome == Attempt.Outcome.SUCCEEDED:
            return "skipped"
        attempt.outcome = Attempt.Outcome.SUCCEEDED
        attempt.decision = "succeeded later (the customer completed the bank's check)"
        attempt.save()
        if Transaction.objects.filter(invoice=invoice, kind=Transaction.Kind.CHARGE, status=TS.DONE).exists():
            logger.error("%s was charged twice (%s); refund one of them", invoice, result.stripe_id)
            return "charged twice: needs a refund"
        if invoice.status not in (IS.PROCESSING, IS.PROCESS_FAILED):
            logger.error("%s is %s but %s went through; refund it", invoice, invoice.status, result.stripe_id)
            return f"paid while {invoice.status}: needs a refund"
        for txn in Transaction.objects.select_for_update().filter(
            invoice=invoice, status__in=Transaction.OPEN_STATUSES
        ):
            txn.cancel(description="Paid by a charge that went through later")
            txn.save()
        done = Transaction.objects.create(
            invoice=invoice,
            kind=Transaction.Kind.CHARGE,
            amount=old.amount,
            currency=old.currency,
            payment_method=old.payment_method,
        )
        done.succeed_first_time(description=attempt.decision, stripe_id=result.stripe_id)
        done.save()
        if invoice.status == IS.PROCESS_FAILED:
            invoice.process(description="Late payment arrived", payment_method=old.payment_method)
        invoice.settle(description=f"Charged {result.stripe_id}")
        invoice.save()
        _after_settled(invoice)
        return "done"


def _charge_answered(txn, invoice, attempt, decline, now) -> str:
    txn.transport_failures = 0
    if decline is None:
        (txn.succeed if txn.status == TS.RETRYING else txn.succeed_first_time)(stripe_id=attempt.stripe_id)
        txn.save()
        if invoice.status == IS.PROCESSING:
            invoice.settle(description=f"Charged {attempt.stripe_id}")
            invoice.save()
            _after_settled(invoice)
        else:
            # Settled after the invoice was given up on (an answer that came late): keep
            # the money on record and tell ops; never charge again.
            logger.error("%s was charged (%s) while %s", invoice, attempt.stripe_id, invoice.status)
        return "done"

    txn.last_category, txn.last_message = decline.category, decline.message[:500]
    if txn.payment_method_id != invoice.payment_method_id and invoice.status == IS.PROCESSING:
        # The customer added a card while this answer was outstanding: move to the new card.
        attempt.decision = f"{decline.category}: {decline.message} A newer card is charged instead."
        txn.fail(description=attempt.decision[:300])
        txn.save()
        _charge_soon(invoice, invoice.payment_method)
        return "failed"

    policy = invoice.dunning or DunningPolicy.load().snapshot()
    if decline.category == declines.SOFT:
        delays = policy["retry_delays"]
        limit = min(len(delays), policy["ambiguous_retry_cap"]) if decline.ambiguous else len(delays)
        if txn.failure_count < limit:
            wait = timedelta(days=delays[txn.failure_count])
            if decline.retry_after and decline.retry_after > wait:
                wait = decline.retry_after
            next_at = now + wait
            attempt.decision = f"soft: {decline.message.rstrip('.').lower()}, next try on {next_at:%Y-%m-%d}"
            txn.retry_later(description=attempt.decision, next_attempt_at=next_at)
            txn.save()
            _subscription_past_due(invoice)
            _email(
                "payment_failed",
                invoice_id=invoice.pk,
                reason=decline.message,
                next_attempt_at=next_at.isoformat(),
                retries_left=limit - txn.failure_count,
            )
            return "retrying"
        attempt.decision = f"soft: {decline.message.rstrip('.').lower()}; retries used up"
    elif decline.category == declines.HARD:
        attempt.decision = f"hard: {decline.message.rstrip('.').lower()}; this card is never tried again"
        if decline.source != "type" and txn.payment_method_id:
            PaymentMethod.objects.filter(pk=txn.payment_method_id).update(
                unusable_since=now, unusable_reason=decline.message[:300]
            )
    else:
        attempt.decision = f"customer action: {decline.message.rstrip('.').lower()}"
    txn.fail(description=attempt.decision[:300])
    txn.save()
    _invoice_failed(
        invoice,
        reason=decline.message,
        category=decline.category,
        authenticate=decline.code == AUTHENTICATION_REQUIRED and bool(attempt.stripe_id),
    )
    return "failed"


def _invoice_failed(invoice: Invoice, *, reason: str, category: str, authenticate: bool = False) -> None:
    policy = invoice.dunning or DunningPolicy.load().snapshot()
    grace_ends = timezone.now() + timedelta(days=policy["grace_period_days"])
    invoice.fail(description=reason[:300], grace_ends_at=grace_ends)
    invoice.save()
    _subscription_past_due(invoice)
    if category == declines.SOFT:
        _email("final_notice", invoice_id=invoice.pk, reason=reason, grace_ends_at=grace_ends.isoformat())
    else:
        _email(
            "action_required",
            invoice_id=invoice.pk,
            reason=reason,
            grace_ends_at=grace_ends.isoformat(),
            authenticate=authenticate,
        )


def _refund_answered(txn, invoice, attempt, decline) -> str:
    txn.transport_failures = 0
    if decline is None:
        (txn.succeed if txn.status == TS.RETRYING else txn.succeed_first_time)(stripe_id=attempt.stripe_id)
        txn.save()
        if txn.amount >= invoice.refundable_amount:
            invoice.finish_full_refund(description=f"Refunded {attempt.stripe_id}", amount=txn.amount)
        else:
            invoice.finish_partial_refund(
                description=f"Partly refunded {attempt.stripe_id}", amount=txn.amount
            )
        invoice.save()
        return "done"
    attempt.decision = f"refund refused: {attempt.message or decline.message}"[:300]
    txn.last_category, txn.last_message = decline.category, attempt.decision
    txn.fail(description=attempt.decision)
    txn.save()
    invoice.finish_partial_refund(description=attempt.decision, amount=0)
    invoice.save()
    logger.error("Refund %s of %s refused by Stripe: %s", txn.pk, invoice, attempt.message)
    return "failed"


def _after_settled(invoice: Invoice) -> None:
    if invoice.order_id:
        from orders.models import Order
        from orders.services import order_pay

        if Order.objects.filter(pk=invoice.order_id, status=Order.Status.PENDING_PAYMENT).exists():
            order_pay(order_id=invoice.order_id)
    _subscription_after_invoice_change(invoice)


# --- subscriptions ---------------------------------------------------------------------


def subscription_create(*, customer: Customer, plan: Plan, started_at=None) -> Subscription:
    started_at = started_at or timezone.now()
    if not plan.is_active:
        raise ApplicationError(f"The plan “{plan}” is not offered any more.")
    return Subscription.objects.create(
        customer=customer, plan=plan, started_at=started_at, next_invoice_at=started_at
    )


def _subscription_past_due(invoice: Invoice) -> None:
    if invoice.subscription_id is None:
        return
    sub = Subscription.objects.select_for_update().get(pk=invoice.subscription_id)
    if sub.status == SS.ACTIVE:
        sub.mark_past_due(description=f"{invoice} failed")
        sub.save()


def _subscription_after_invoice_change(invoice: Invoice) -> None:
    """Back to active when nothing the subscription billed is still unpaid."""
    if invoice.subscription_id is None:
        return
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
        sub.reactivate(description=f"{invoice} paid")
        sub.save()


def subscription_cancel(*, subscription_id: int, by=None, reason: str = "") -> Subscription:
    """Cancel a subscription; its open invoices and their open transactions are canceled."""
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=subscription_id)
        if sub.status == SS.CANCELED:
            raise ApplicationError("This subscription is already canceled.")
        for invoice in Invoice.objects.select_for_update().filter(
            subscription=sub, status__in=[IS.INIT, IS.PROCESSING, IS.PROCESS_FAILED]
        ):
            _cancel_open_transactions(invoice, by=by, reason="Subscription canceled")
            invoice.cancel(by=by, description="Subscription canceled")
            invoice.save()
        sub.cancel(by=by, description=reason or "Canceled")
        sub.save()
        _email("subscription_canceled", invoice_id=None, subscription_id=sub.pk, reason=reason)
    return sub


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
                    lines=[Line(f"{plan.name}, {start:%Y-%m-%d} to {end:%Y-%m-%d}", 1, plan.amount)],
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


# --- grace periods: final actions ------------------------------------------------------


def invoices_apply_grace(*, now=None) -> int:
    """Invoices that failed for good and whose grace period ended: cancel the unpaid
    order, or take the dunning policy's final action on the subscription."""
    now = now or timezone.now()
    done = 0
    ids = Invoice.objects.filter(
        status=IS.PROCESS_FAILED, grace_ends_at__lte=now, final_action_taken_at__isnull=True
    ).values_list("pk", flat=True)
    for invoice_id in list(ids):
        with transaction.atomic():
            invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
            if invoice.status != IS.PROCESS_FAILED or invoice.final_action_taken_at:
                continue
            invoice.final_action_taken_at = now
            if invoice.order_id:
                from orders.models import Order
                from orders.services import order_cancel

                _withdraw_bank_confirmation(invoice)
                invoice.cancel(description="Payment never settled")
                invoice.save()
                if Order.objects.filter(pk=invoice.order_id, status=Order.Status.PENDING_PAYMENT).exists():
                    order_cancel(order_id=invoice.order_id, by=None, reason="Payment never settled")
            else:
                invoice.save(update_fields=["final_action_taken_at"])
                _final_action(invoice)
            done += 1
    return done


def _final_action(invoice: Invoice) -> None:
    if invoice.subscription_id is None:
        return
    action = (invoice.dunning or DunningPolicy.load().snapshot())["final_action"]
    if action == DunningPolicy.FinalAction.CANCEL:
        subscription_cancel(subscription_id=invoice.subscription_id, reason=f"{invoice} was never paid")
    elif action == DunningPolicy.FinalAction.UNPAID:
        sub = Subscription.objects.select_for_update().get(pk=invoice.subscription_id)
        if sub.status == SS.PAST_DUE:
            sub.mark_unpaid(description=f"{invoice} was never paid")
            sub.save()


# --- the processing loop ---------------------------------------------------------------


@dataclass
class ProcessReport:
    invoices_issued: int = 0
    final_actions: int = 0
    results: dict = field(default_factory=dict)
    skipped_busy: bool = False

    def count(self, result: str) -> None:
        self.results[result] = self.results.get(result, 0) + 1

    @property
    def attempted(self) -> int:
        return sum(v for k, v in self.results.items() if k not in ("skipped", "waiting"))


LEASE_FREE = datetime(2000, 1, 1, tzinfo=UTC)


def _lease_take(name: str, holder: str, seconds: int) -> bool:
    now = timezone.now()
    ProcessingLease.objects.get_or_create(name=name, defaults={"held_until": LEASE_FREE})
    return bool(
        ProcessingLease.objects.filter(Q(held_until__lt=now) | Q(holder=holder), name=name).update(
            held_until=now + timedelta(seconds=seconds), holder=holder
        )
    )


def _lease_release(name: str, holder: str) -> None:
    ProcessingLease.objects.filter(name=name, holder=holder).update(held_until=LEASE_FREE, holder="")


def transactions_due_ids(*, now, limit: int) -> list[int]:
    return list(
        Transaction.objects.filter(status__in=Transaction.OPEN_STATUSES, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def transactions_process_due(
    *, now=None, concurrency: int | None = None, processes: int | None = None, batch: int = 10_000
) -> ProcessReport:
    """The first seed's processing loop: yield due subscription invoices, apply ended
    grace periods, then attempt every due transaction. One loop runs at a time."""
    now = now or timezone.now()
    report = ProcessReport()
    holder = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
    if not _lease_take("process_transactions", holder, 600):
        report.skipped_busy = True
        return report
    try:
        report.invoices_issued = subscriptions_yield_invoices(now=now)
        report.final_actions = invoices_apply_grace(now=now)
        if concurrency is None:
            concurrency = settings.BILLING_CONCURRENCY
        processes = settings.BILLING_PROCESSES if processes is None else processes
        if connection.vendor == "sqlite":
            concurrency, processes = 1, 1  # SQLite has one writer; threads would only wait on each other
        seen = set()
        while True:
            ids = [i for i in transactions_due_ids(now=now, limit=batch) if i not in seen]
            if not ids:
                break
            seen.update(ids)
            if processes > 1 and len(ids) > processes:
                _run_in_processes(ids, now, concurrency, processes, report)
            else:
                _run_all(ids, now, concurrency, report)
            _lease_take("process_transactions", holder, 600)
    finally:
        _lease_release("process_transactions", holder)
    return report


def _run_all(ids, now, concurrency, report) -> None:
    """This thread claims the transactions a batch at a time (step 1, one database
    transaction per batch); `concurrency` sender threads call Stripe and record the
    answers (steps 2 and 3). The hand-over queue is short, so an attempt waits a moment
    between its claim and its call, never a whole backlog. With a concurrency of 1 this
    thread sends each claim itself, in batches of one."""
    lock = threading.Lock()

    def count(result):
        with lock:
            report.count(result)

    def send(pair):
        count(_send_and_record_safely(*pair, now))

    threads = []
    if concurrency > 1:
        claimed: queue.Queue = queue.Queue(maxsize=max(1, concurrency // 2))

        def sender():
            try:
                while (pair := claimed.get()) is not None:
                    send(pair)
            finally:
                connection.close()

        threads = [threading.Thread(target=sender, daemon=True) for _ in range(min(concurrency, len(ids)))]
        for thread in threads:
            thread.start()
    hand_over = claimed.put if threads else send
    try:
        size = max(1, concurrency // 2)
        for offset in range(0, len(ids), size):
            pairs, why = _claim_batch_safely(ids[offset : offset + size], now)
            for result in why.values():
                count(result)
            for pair in pairs:
                hand_over(pair)
    finally:
        for _ in threads:
            claimed.put(None)
        for thread in threads:
            thread.join()


def _run_in_processes(ids, now, concurrency, processes, report) -> None:
    """Python runs one thread at a time per process, so a big backlog is split over
    forked processes (PostgreSQL only), each with its threads, its own database
    connections and its share of the Stripe rate."""
    import multiprocessing

    from django.db import connections

    connections.close_all()  # a forked child must never reuse the parent's socket
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    shards = [ids[k::processes] for k in range(processes)]

    def child(shard):
        gateway.rate_share = processes
        sub = ProcessReport()
        try:
            _run_all(shard, now, concurrency, sub)
        finally:
            connections.close_all()
            results.put(sub.results)

    children = [ctx.Process(target=child, args=(shard,), daemon=True) for shard in shards if shard]
    for proc in children:
        proc.start()
    for _ in children:
        for result, count in results.get().items():
            report.results[result] = report.results.get(result, 0) + count
    for proc in children:
        proc.join()


def _claim_batch_safely(ids, now) -> tuple[list, dict[int, str]]:
    """Claim a batch; if that fails, claim its transactions one by one, so that one bad
    transaction holds up only itself."""
    try:
        return _claim_many(ids, now)
    except Exception:
        logger.exception("Claiming transactions %s..%s together failed; one by one", ids[0], ids[-1])
    pairs, why = [], {}
    for txn_id in ids:
        try:
            claimed = _claim(txn_id, now)
        except Exception:
            logger.exception("Transaction %s could not be claimed", txn_id)
            claimed = "error"
        if isinstance(claimed, str):
            why[txn_id] = claimed
        else:
            pairs.append(claimed)
    return pairs, why


def _send_and_record_safely(txn, attempt, now) -> str:
    try:
        return _send_and_record(txn, attempt, now)
    except Exception:
        logger.exception("Transaction %s could not be attempted", txn.pk)
        return "error"
