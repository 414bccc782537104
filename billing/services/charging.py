"""
Charging and refunding one transaction: claim, call Stripe, record the answer.

Charging one transaction is three steps, so that no database lock is held while Stripe
thinks and no answer is ever lost:

1. In a short database transaction: lock the transaction row, check it is still due and
   that nothing else is collecting the invoice, and write an Attempt row with its
   idempotency key (outcome `unknown`). Commit. The loop does this for a batch of
   transactions at once; a single transaction is a batch of one.
2. Call Stripe with that key (billing.gateway), outside any database transaction.
3. In a second short database transaction: lock the invoice's owner, the invoice, the
   transaction and the attempt, in that order (marketplace/locking.py); record the raw
   answer on the attempt, classify it (billing.declines), move the transaction and the
   invoice, and tell the invoice's owner (billing.invoice_owners). Emails go out after
   commit.

If the process dies between 1 and 3, the attempt stays `unknown` and the next run sends
the same request again with the same key: Stripe answers with the original result
instead of charging twice. While an attempt is `unknown`, nothing starts another charge
for its invoice.
"""

import enum
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from marketplace.platform_time import date_text, datetime_text

from .. import declines, gateway
from ..invoice_owners import InvoiceEvent, invoice_lock, invoice_owner_notify
from ..models import REFUND_REFUSED_NOTE, Attempt, DunningPolicy, Invoice, PaymentMethod, Receipt, Transaction
from .customers import customer_stripe_id
from .dunning import invoice_failed
from .effects import attempt_soon, email
from .receipts import receipt_issue

logger = logging.getLogger(__name__)
IS = Invoice.Status
TS = Transaction.Status
PAYMENT, REFUND = Receipt.Kind.PAYMENT, Receipt.Kind.REFUND

# An unknown attempt younger than this may still be in flight in another worker.
IN_FLIGHT_GRACE = timedelta(seconds=120)
# Backoff for gateway trouble between runs: 1, 2, 4 ... minutes, at most an hour.
TRANSPORT_BACKOFF_MAX = timedelta(hours=1)
AUTHENTICATION_REQUIRED = "authentication_required"


class AttemptResult(enum.StrEnum):
    """What happened to one transaction in one try; the loop counts these."""

    DONE = "done"  # charged or refunded
    RETRYING = "retrying"  # a soft decline: tried again on the dunning schedule
    FAILED = "failed"  # declined for good, or no usable card
    GATEWAY = "gateway"  # no proper answer: the same request is sent again later
    SKIPPED = "skipped"  # not due any more, or already recorded
    WAITING = "waiting"  # another attempt for its invoice is in flight
    ERROR = "error"  # a bug or a database error; logged
    HELD = "held"  # Stripe refused the platform's request: waits for staff


def charge_soon(invoice: Invoice, payment_method: PaymentMethod) -> Transaction:
    """A new charge of the whole invoice on `payment_method`, attempted after commit."""
    txn = Transaction.objects.create(
        invoice=invoice,
        kind=Transaction.Kind.CHARGE,
        amount=invoice.total_amount,
        currency=invoice.currency,
        payment_method=payment_method,
    )
    attempt_soon(txn.pk)
    return txn


@dataclass
class AttemptReport:
    transaction_id: int
    result: AttemptResult


def _key(txn: Transaction, number: int) -> str:
    return f"{settings.STRIPE_IDEMPOTENCY_NAMESPACE}:txn-{txn.pk}:attempt-{number}"


def claim(txn_id: int, now) -> tuple[Transaction, Attempt] | AttemptResult:
    """Step 1 for one transaction. Returns (transaction, attempt) to send, or why not."""
    claimed, why = claim_many([txn_id], now)
    return claimed[0] if claimed else why[txn_id]


def claim_many(ids: list[int], now) -> tuple[list[tuple[Transaction, Attempt]], dict[int, AttemptResult]]:
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
        why.update(dict.fromkeys(set(ids) - {t.pk for t in due}, AttemptResult.SKIPPED))
        facts = _claim_facts([t.pk for t in due])
        charging: set[int] = set()  # invoices this batch is charging
        for txn in due:
            decided = _claim_decide(txn, facts[txn.pk], now, charging)
            if isinstance(decided, AttemptResult):
                why[txn.pk] = decided
                continue
            if decided.pk is None:
                new.append(decided)
            claimed.append((txn, decided))
        Attempt.objects.bulk_create(new)
    # A claim's FAILED is a charge with no card it may use. It is failed now, in a
    # transaction of its own that can lock the invoice before the transaction as the lock
    # order wants (the claim holds transaction locks only).
    for txn_id in [txn_id for txn_id, decided in why.items() if decided == AttemptResult.FAILED]:
        why[txn_id] = _charge_failed_without_card(txn_id, now)
    return claimed, why


def _claim_decide(txn: Transaction, facts: dict, now, charging: set[int]) -> Attempt | AttemptResult:
    """The attempt to send for a locked, due transaction (a new one is not saved yet), or
    why there is none. FAILED means no usable card: claim_many fails the charge after
    the claim commits."""
    is_charge = txn.kind == Transaction.Kind.CHARGE
    if facts["last_outcome"] == Attempt.Outcome.UNKNOWN:
        attempt = Attempt.objects.get(pk=facts["last_id"])
        if attempt.started_at > now - IN_FLIGHT_GRACE and attempt.calls == 0:
            return AttemptResult.WAITING  # another worker is sending it right now
        # Resend the same request with the same key.
        Attempt.objects.filter(pk=attempt.pk).update(started_at=now)
        if is_charge:
            charging.add(txn.invoice_id)
        return attempt
    if is_charge:
        if facts["sibling_done"]:
            txn.cancel(description="The invoice was already paid by another charge")
            txn.save()
            return AttemptResult.SKIPPED
        if facts["sibling_unknown"] or txn.invoice_id in charging:
            txn.next_attempt_at = now + timedelta(minutes=1)
            txn.save(update_fields=["next_attempt_at"])
            return AttemptResult.WAITING
        if txn.payment_method is None or not txn.payment_method.usable:
            return AttemptResult.FAILED
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


def _charge_failed_without_card(txn_id: int, now) -> AttemptResult:
    """Fail a due charge whose card may not be charged (lost, stolen, removed)."""
    with transaction.atomic():
        unlocked = Transaction.objects.only("invoice_id").get(pk=txn_id)
        invoice = invoice_lock(invoice_id=unlocked.invoice_id)
        # Lock only the transaction: PostgreSQL refuses FOR UPDATE on the nullable side of
        # the outer join to payment_method.
        txn = (
            Transaction.objects.select_for_update(of=("self",))
            .select_related("payment_method")
            .get(pk=txn_id)
        )
        if txn.status not in Transaction.OPEN_STATUSES or txn.next_attempt_at > now:
            return AttemptResult.SKIPPED
        if txn.payment_method is not None and txn.payment_method.usable:
            return AttemptResult.WAITING  # a usable card again: the next run charges it
        txn.fail(description="No usable card", counted=False)
        txn.save()
        if invoice.status == IS.PROCESSING:
            invoice_failed(
                invoice, reason="The card on file may not be charged again.", category=declines.HARD
            )
    return AttemptResult.FAILED


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
        currency=txn.currency,
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
    claimed = claim(transaction_id, now)
    if isinstance(claimed, AttemptResult):
        return AttemptReport(transaction_id, claimed)
    return AttemptReport(transaction_id, send_and_record(*claimed, now))


def send_and_record(txn: Transaction, attempt: Attempt, now) -> AttemptResult:
    """Steps 2 and 3 for a claimed attempt."""
    try:
        result = _send(txn, attempt)
    except gateway.GatewayUnavailable as exc:
        _record_transport_trouble(txn.pk, attempt.pk, exc, now)
        return AttemptResult.GATEWAY
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
            "The payment service did not answer; trying again at "
            f"{datetime_text(txn.next_attempt_at)}."
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
    attempt.client_secret = result.client_secret[:255]
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


def attempt_record(*, attempt_id: int, result: gateway.GatewayResult, now=None) -> AttemptResult:
    """Step 3: record Stripe's answer and move the transaction and its invoice. Also used
    by webhooks and reconciliation; an attempt whose outcome is known is left alone."""
    now = now or timezone.now()
    with transaction.atomic():
        # The invoice's owner, the invoice, the transaction, the attempt: the lock order.
        invoice_id, txn_id = Attempt.objects.values_list("transaction__invoice_id", "transaction_id").get(
            pk=attempt_id
        )
        invoice = invoice_lock(invoice_id=invoice_id)
        txn = Transaction.objects.select_for_update().get(pk=txn_id)
        attempt = Attempt.objects.select_for_update().get(pk=attempt_id)
        txn.invoice = invoice
        attempt.transaction = txn
        if attempt.outcome != Attempt.Outcome.UNKNOWN:
            return AttemptResult.SKIPPED
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
            return AttemptResult.GATEWAY
        if txn.kind == Transaction.Kind.CHARGE:
            outcome = _charge_answered(txn, invoice, attempt, decline, now)
        else:
            outcome = _refund_answered(txn, invoice, attempt, decline)
        attempt.save()
        return outcome


# A charge held for staff is not due until staff act: the loop's due query never reaches it.
HELD_UNTIL = datetime(9999, 12, 31, tzinfo=UTC)


def _hold_for_staff(txn, invoice, attempt, decline, now) -> AttemptResult:
    """Stripe refused the platform's own request: not the customer's fault. The card stays
    usable, no failure is counted, the customer is not emailed, and the charge waits
    (open) until staff fix the cause and press "Retry now", which sends a new attempt with
    a new key (Stripe replays a refused request's answer for its key)."""
    attempt.decision = f"platform: {decline.message.rstrip('.')}; waiting for staff"[:300]
    txn.held_for_staff_at = now
    txn.next_attempt_at = HELD_UNTIL
    txn.save(
        update_fields=[
            "held_for_staff_at",
            "next_attempt_at",
            "last_category",
            "last_message",
            "transport_failures",
        ]
    )
    logger.error("%s of %s needs staff: Stripe refused the request (%s)", txn, invoice, decline.message)
    return AttemptResult.HELD


def _charge_answered(txn, invoice, attempt, decline, now) -> AttemptResult:
    txn.transport_failures = 0
    if decline is None:
        (txn.succeed if txn.status == TS.RETRYING else txn.succeed_first_time)(stripe_id=attempt.stripe_id)
        txn.save()
        if invoice.status == IS.PROCESSING:
            invoice.settle(description=f"Charged {attempt.stripe_id}")
            invoice.save()
            invoice_owner_notify(invoice, InvoiceEvent.SETTLED)
            receipt_issue(invoice=invoice, kind=PAYMENT, amount=txn.amount, reference=attempt.stripe_id)
        else:
            # Settled after the invoice was given up on (an answer that came late): keep
            # the money on record and tell ops; never charge again.
            logger.error("%s was charged (%s) while %s", invoice, attempt.stripe_id, invoice.status)
        return AttemptResult.DONE

    txn.last_category, txn.last_message = decline.category, decline.message[:500]
    if txn.payment_method_id != invoice.payment_method_id and invoice.status == IS.PROCESSING:
        # The customer added a card while this answer was outstanding: move to the new card.
        attempt.decision = f"{decline.category}: {decline.message} A newer card is charged instead."
        txn.fail(description=attempt.decision[:300])
        txn.save()
        charge_soon(invoice, invoice.payment_method)
        return AttemptResult.FAILED

    if decline.category == declines.PLATFORM:
        return _hold_for_staff(txn, invoice, attempt, decline, now)

    policy = invoice.dunning or DunningPolicy.load().snapshot()
    if decline.category == declines.SOFT:
        delays = policy["retry_delays"]
        limit = min(len(delays), policy["ambiguous_retry_cap"]) if decline.ambiguous else len(delays)
        if txn.failure_count < limit:
            wait = timedelta(days=delays[txn.failure_count])
            if decline.retry_after and decline.retry_after > wait:
                wait = decline.retry_after
            next_at = now + wait
            attempt.decision = f"soft: {decline.message.rstrip('.').lower()}, next try on {date_text(next_at)}"
            txn.retry_later(description=attempt.decision, next_attempt_at=next_at)
            txn.save()
            invoice_owner_notify(invoice, InvoiceEvent.PAYMENT_RETRYING)
            email(
                "payment_failed",
                invoice_id=invoice.pk,
                reason=decline.message,
                next_attempt_at=next_at.isoformat(),
                retries_left=limit - txn.failure_count,
            )
            return AttemptResult.RETRYING
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
    invoice_failed(
        invoice,
        reason=decline.message,
        category=decline.category,
        authenticate=decline.code == AUTHENTICATION_REQUIRED and bool(attempt.stripe_id),
    )
    return AttemptResult.FAILED


def _refund_answered(txn, invoice, attempt, decline) -> AttemptResult:
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
        invoice_owner_notify(
            invoice, InvoiceEvent.REFUNDED, amount=txn.amount, reason=txn.reason, reference=attempt.stripe_id
        )
        receipt_issue(invoice=invoice, kind=REFUND, amount=txn.amount, reference=attempt.stripe_id)
        return AttemptResult.DONE
    attempt.decision = f"{REFUND_REFUSED_NOTE}: {attempt.message or decline.message}"[:300]
    txn.last_category, txn.last_message = decline.category, attempt.decision
    txn.fail(description=attempt.decision)
    txn.save()
    invoice.finish_partial_refund(description=attempt.decision, amount=0)
    invoice.save()
    logger.error("Refund %s of %s refused by Stripe: %s", txn.pk, invoice, attempt.message)
    invoice_owner_notify(
        invoice, InvoiceEvent.REFUND_REFUSED, amount=txn.amount, reason=attempt.message or decline.message
    )
    return AttemptResult.FAILED
