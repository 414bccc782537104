"""Reads for billing: what views, admin and the loop show or pick up, without changing
anything."""

from dataclasses import dataclass
from datetime import datetime

from marketplace.money import format_money
from marketplace.platform_time import date_text, datetime_text

from .declines import decline_for_customer
from .models import Attempt, Dispute, Invoice, Receipt, Transaction

IS = Invoice.Status
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


def transactions_due_ids(*, now, limit: int) -> list[int]:
    return list(
        Transaction.objects.filter(status__in=Transaction.OPEN_STATUSES, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def invoice_for_order(*, order_id: int) -> Invoice | None:
    """The invoice issued for an order, if any."""
    return Invoice.objects.filter(order_id=order_id).first()


def disputes_open_for_order(*, order_id: int) -> list[Dispute]:
    """The disputes still open on the payment of an order's invoice."""
    return list(Dispute.objects.filter(invoice__order_id=order_id, status=Dispute.Status.OPEN).order_by("pk"))


def charge_attempt_for_payment_intent(*, payment_intent_id: str) -> Attempt | None:
    """The succeeded charge attempt of ours that a Stripe PaymentIntent is, if any (how a
    refund or dispute made at Stripe finds its invoice)."""
    return (
        Attempt.objects.filter(
            stripe_id=payment_intent_id,
            outcome=Attempt.Outcome.SUCCEEDED,
            transaction__kind=Transaction.Kind.CHARGE,
        )
        .select_related("transaction")
        .first()
    )


@dataclass(frozen=True)
class PaymentStatus:
    """Where an invoice's payment stands, in the customer's words (the card page)."""

    # charging | paid | retrying | declined | authenticate | held | open | refunding |
    # refunded | canceled
    state: str
    headline: str
    detail: str = ""
    next_attempt_at: datetime | None = None
    receipt: Receipt | None = None

    @property
    def waiting(self) -> bool:
        """The answer is not in yet: the page asks again."""
        return self.state == "charging"

    @property
    def tone(self) -> str:
        return {"paid": "success", "refunded": "success", "declined": "error", "authenticate": "warning"}.get(
            self.state, "warning" if self.state == "retrying" else "info"
        )


def _day(moment) -> str:
    return date_text(moment)


def _card_just_entered(invoice: Invoice, charge: Transaction | None):
    """The card the customer entered on the card page to pay this invoice, when `charge`
    is on it: an earlier charge of the invoice was on another card (the one that was
    declined before). None otherwise."""
    if charge is None or charge.payment_method_id is None:
        return None
    earlier = (
        Transaction.objects.filter(invoice=invoice, kind=Transaction.Kind.CHARGE, pk__lt=charge.pk)
        .exclude(payment_method_id=charge.payment_method_id)
        .exists()
    )
    return charge.payment_method if earlier else None


def invoice_payment_status(invoice: Invoice) -> PaymentStatus:
    """What the customer is told about their payment: paid (with the receipt), declined
    and why, when the next try is, or that the answer is still on its way."""
    amount = format_money(invoice.total_amount, invoice.currency)
    receipts = {r.kind: r for r in invoice.receipts.order_by("number")}
    if invoice.status == IS.SETTLED:
        detail = f"You paid {amount} on {_day(invoice.settled_at)}." if invoice.settled_at else ""
        if invoice.amount_refunded:
            refunded = format_money(invoice.amount_refunded, invoice.currency)
            detail += f" {refunded} of it was refunded to you."
        return PaymentStatus("paid", "Paid. Thank you.", detail, receipt=receipts.get(Receipt.Kind.PAYMENT))
    if invoice.status == IS.REFUNDING:
        return PaymentStatus(
            "refunding", "Paid. A refund is on its way to your card.", receipt=receipts.get("payment")
        )
    if invoice.status == IS.REFUNDED:
        return PaymentStatus(
            "refunded",
            "Refunded",
            f"The {amount} you paid was sent back to your card. Banks take up to 10 days to show it.",
            receipt=receipts.get(Receipt.Kind.REFUND) or receipts.get(Receipt.Kind.PAYMENT),
        )
    if invoice.status == IS.CANCELED:
        return PaymentStatus("canceled", "Canceled: there is nothing to pay.")
    if invoice.status == IS.INIT:
        return PaymentStatus("open", f"Not paid yet: add a card to pay {amount}.")
    charge = (
        Transaction.objects.filter(invoice=invoice, kind=Transaction.Kind.CHARGE)
        .order_by("-created_at", "-pk")
        .first()
    )
    why = decline_for_customer(charge.last_message) if charge and charge.last_message else ""
    if invoice.status == IS.PROCESS_FAILED:
        if invoice_attempt_awaiting_authentication(invoice) is not None:
            return PaymentStatus(
                "authenticate",
                "Your bank wants you to confirm this payment.",
                "Confirm it below (your bank's check opens), or pay with another card.",
            )
        detail = f"{why} " if why else ""
        detail += "Nothing was charged. Pay with another card below."
        if invoice.grace_ends_at:
            detail += (
                f" If it is still unpaid on {_day(invoice.grace_ends_at)}, {invoice_after_grace(invoice)}."
            )
        entered = _card_just_entered(invoice, charge)
        # A card just entered and declined is said first, with why: the customer is
        # waiting for that answer, not for the story of the card before it.
        headline = f"The card you entered, {entered.short_label}, was declined." if entered else "Your card was declined."
        return PaymentStatus("declined", headline, detail)
    # processing
    if charge is None or charge.status not in Transaction.OPEN_STATUSES:
        return PaymentStatus("charging", f"We are charging {amount} to your card.")
    if charge.held_for_staff_at:
        return PaymentStatus(
            "held",
            "Your payment is delayed by a problem on our side.",
            "You do not need to do anything: we will charge your card once it is fixed, and email you.",
        )
    if charge.status == Transaction.Status.RETRYING:
        entered = _card_just_entered(invoice, charge)
        if entered:
            return PaymentStatus(
                "retrying",
                f"The card you entered, {entered.short_label}, was declined.",
                (f"{why} " if why else "")
                + f"Nothing was charged. We will try it again on {_day(charge.next_attempt_at)}. "
                "To pay sooner, use another card below.",
                next_attempt_at=charge.next_attempt_at,
            )
        return PaymentStatus(
            "retrying",
            "Your card was declined.",
            (f"{why} " if why else "")
            + f"We will try again on {_day(charge.next_attempt_at)}. To pay sooner, use another card below.",
            next_attempt_at=charge.next_attempt_at,
        )
    return PaymentStatus("charging", f"We are charging {amount} to your card.")


def invoice_after_grace(invoice: Invoice) -> str:
    """What happens when a failed invoice's grace period ends, for the customer."""
    if invoice.order_id:
        return f"order #{invoice.order_id} will be canceled"
    if invoice.subscription_id:
        action = (invoice.dunning or {}).get("final_action", "cancel")
        return {
            "cancel": "your subscription will be canceled",
            "unpaid": "your subscription will be marked unpaid and its service paused",
        }.get(action, "your subscription will stay past due")
    return "the invoice will stay unpaid"


@dataclass
class PaymentLine:
    """One logical payment or refund of an invoice, as staff should read it: the
    transactions that are the same money at Stripe (a charge declined, then confirmed
    later by the customer's bank and recorded on a new transaction, share a PaymentIntent)
    on one line, their gateway attempts beneath."""

    kind: str
    amount: int
    currency: str
    card: str
    outcome: str
    transactions: list
    attempts: list


def _payment_outcome(txns: list[Transaction]) -> str:
    refund = txns[0].kind == Transaction.Kind.REFUND
    done = [t for t in txns if t.status == Transaction.Status.DONE]
    if done:
        return (
            f"{'Refunded' if refund else 'Paid'} on {datetime_text(done[0].done_at)}"
        )
    waiting = [t for t in txns if t.status in Transaction.OPEN_STATUSES]
    if waiting:
        txn = waiting[0]
        if txn.held_for_staff_at:
            return f"Waiting for staff: {txn.last_message}"
        if txn.status == Transaction.Status.RETRYING:
            return f"Declined, next try on {datetime_text(txn.next_attempt_at)}: {txn.last_message}"
        return "Being sent to Stripe"
    last = txns[-1]
    if last.status == Transaction.Status.CANCELED:
        return f"Canceled: {last.reason or 'no reason given'}"
    return f"Failed: {last.last_message or 'no reason recorded'}"


def invoice_payments(invoice: Invoice) -> list[PaymentLine]:
    """The invoice's charges and refunds, one line per logical payment, oldest first."""
    txns = list(
        invoice.transactions.select_related("payment_method")
        .prefetch_related("attempts")
        .order_by("created_at", "pk")
    )
    groups: list[list[Transaction]] = []
    by_stripe_id: dict[str, int] = {}
    for txn in txns:
        ids = {a.stripe_id for a in txn.attempts.all() if a.stripe_id} | (
            {txn.stripe_id} if txn.stripe_id else set()
        )
        found = next((by_stripe_id[i] for i in ids if i in by_stripe_id), None)
        if found is None:
            groups.append([txn])
            found = len(groups) - 1
        else:
            groups[found].append(txn)
        for i in ids:
            by_stripe_id.setdefault(i, found)
    lines = []
    for group in groups:
        first = group[0]
        card = next((str(t.payment_method) for t in group if t.payment_method), "")
        attempts = sorted((a for t in group for a in t.attempts.all()), key=lambda a: (a.started_at, a.pk))
        lines.append(
            PaymentLine(
                kind=first.get_kind_display(),
                amount=first.amount,
                currency=first.currency,
                card=card,
                outcome=_payment_outcome(group),
                transactions=group,
                attempts=attempts,
            )
        )
    return lines


def dunning_in_words(dunning: dict | None) -> str:
    """An invoice's copy of the dunning policy, for staff."""
    if not dunning:
        return "Not started (the invoice copies the dunning policy when it is first charged)."
    delays = ", ".join(str(d) for d in dunning.get("retry_delays", []))
    final = {
        "cancel": "cancel the subscription",
        "unpaid": "mark the subscription unpaid",
        "past_due": "leave the subscription past due",
    }.get(dunning.get("final_action"), "take the final action")
    grace = dunning.get("grace_period_days", 0)
    cap = dunning.get("ambiguous_retry_cap")
    text = f"After a soft decline, retry after {delays} days; then {grace} day{'s' if grace != 1 else ''} of grace"
    text += f", then {final} (an unpaid order is canceled)."
    if cap is not None:
        text += f" Declines with no reason are retried at most {cap} time{'s' if cap != 1 else ''}."
    return text
