"""
Billing's part of the reconciliation with Stripe (marketplace/reconciliation.py): the
PaymentIntents of succeeded charges, the refunds, and the disputes on our PaymentIntents.

What is ours at Stripe: PaymentIntents whose `attempt` metadata starts with our
idempotency namespace (billing.services.charging sends it on every charge), the
PaymentIntents our transactions point at, and the refunds and disputes of those. Other
systems' objects on the same Stripe account are left alone.
"""

from datetime import datetime

from django.conf import settings

from marketplace.money import format_money, from_stripe_amount
from marketplace.reconciliation import DifferenceKind as K
from marketplace.reconciliation import Findings
from stripe_integration import listing

from .models import Attempt, Dispute, Transaction
from .services.disputes import dispute_status_from_stripe

# The Stripe status that matches a refund we recorded as done. A pending refund is not
# done: ours stays open until Stripe settles it.
REFUND_OK = ("succeeded",)
REFUND_WAITING = ("pending", "requires_action")


def stripe_differences(*, since: datetime) -> Findings:
    """Charges, refunds and disputes created since `since` that differ from Stripe."""
    findings = Findings()
    intents = _our_payment_intents(since)
    _charges(findings, since, intents)
    charge_to_intent = {
        listing.object_id(pi.get("latest_charge")): pi_id
        for pi_id, pi in intents.items()
        if pi.get("latest_charge")
    }
    _refunds(findings, since, intents, charge_to_intent)
    _disputes(findings, since, intents, charge_to_intent)
    return findings


def _money(stripe_amount: int, currency: str) -> tuple[int, str]:
    currency = currency.upper()
    return from_stripe_amount(stripe_amount, currency), currency


def _our_payment_intents(since: datetime) -> dict[str, dict]:
    prefix = f"{settings.STRIPE_IDEMPOTENCY_NAMESPACE}:"
    return {
        pi["id"]: pi
        for pi in listing.payment_intents_since(since)
        if str((pi.get("metadata") or {}).get("attempt", "")).startswith(prefix)
    }


def _charges(findings: Findings, since: datetime, intents: dict[str, dict]) -> None:
    local = list(
        Transaction.objects.filter(
            kind=Transaction.Kind.CHARGE, status=Transaction.Status.DONE, done_at__gte=since
        )
        .exclude(stripe_id="")
        .order_by("pk")
    )
    seen = set()
    for txn in local:
        seen.add(txn.stripe_id)
        pi = intents.get(txn.stripe_id) or listing.payment_intent_get(txn.stripe_id)
        if pi is None:
            findings.add(
                K.MISSING_AT_STRIPE,
                "payment",
                record=f"Charge transaction #{txn.pk} (invoice #{txn.invoice_id})",
                stripe_ids=[txn.stripe_id],
                local=f"{format_money(txn.amount, txn.currency)}, done",
                message=f"We recorded charge {txn.stripe_id}, but Stripe has no such PaymentIntent.",
            )
            continue
        intents.setdefault(pi["id"], pi)
        _compare_charge(findings, txn, pi)
    # Stripe's succeeded PaymentIntents that we did not record as a done charge.
    unrecorded = [
        pi for pi_id, pi in intents.items() if pi_id not in seen and pi.get("status") == "succeeded"
    ]
    ids = [pi["id"] for pi in unrecorded]
    known = {
        txn.stripe_id: txn
        for txn in Transaction.objects.filter(kind=Transaction.Kind.CHARGE, stripe_id__in=ids)
    }
    attempts = {
        a.stripe_id: a for a in Attempt.objects.filter(stripe_id__in=ids).select_related("transaction")
    }
    for pi in unrecorded:
        amount, currency = _money(pi["amount"], pi["currency"])
        txn = known.get(pi["id"]) or (attempts[pi["id"]].transaction if pi["id"] in attempts else None)
        if txn is None:
            findings.add(
                K.MISSING_LOCALLY,
                "payment",
                stripe_ids=[pi["id"]],
                stripe=f"{format_money(amount, currency)}, succeeded",
                message=f"Stripe charged {format_money(amount, currency)} ({pi['id']}) "
                f"but no charge of ours records it (metadata: {pi.get('metadata') or {}}).",
            )
        elif txn.status != Transaction.Status.DONE:
            findings.add(
                K.STATUS_DIFFERS,
                "payment",
                record=f"Charge transaction #{txn.pk} (invoice #{txn.invoice_id})",
                stripe_ids=[pi["id"]],
                local=txn.get_status_display().lower(),
                stripe="succeeded",
                message=f"Stripe charged {pi['id']}, but our charge is {txn.get_status_display().lower()}.",
            )
        # A done charge older than `since` whose PaymentIntent is newer: it matches.
    findings.checked["payment_intents"] += len(seen | set(intents))


def _compare_charge(findings: Findings, txn: Transaction, pi: dict) -> None:
    record = f"Charge transaction #{txn.pk} (invoice #{txn.invoice_id})"
    amount, currency = _money(pi["amount"], pi["currency"])
    findings.compare_amounts(
        "payment",
        record=record,
        stripe_id=pi["id"],
        local=(txn.amount, txn.currency),
        stripe=(amount, currency),
        message=f"We recorded {{local}} for {pi['id']}; Stripe charged {{stripe}}.",
    )
    if pi.get("status") != "succeeded":
        findings.add(
            K.STATUS_DIFFERS,
            "payment",
            record=record,
            stripe_ids=[pi["id"]],
            local="done",
            stripe=str(pi.get("status")),
            message=f"Our charge is done, but Stripe's PaymentIntent {pi['id']} is {pi.get('status')}.",
        )


def _refunds(findings: Findings, since: datetime, intents: dict, charge_to_intent: dict) -> None:
    local = list(
        Transaction.objects.filter(
            kind=Transaction.Kind.REFUND, status=Transaction.Status.DONE, done_at__gte=since
        )
        .exclude(stripe_id="")
        .select_related("refund_of")
        .order_by("pk")
    )
    our_intents = set(intents) | {txn.refund_of.stripe_id for txn in local if txn.refund_of_id}
    prefix = f"{settings.STRIPE_IDEMPOTENCY_NAMESPACE}:"
    at_stripe = {
        r["id"]: r
        for r in listing.refunds_since(since)
        if (r.get("payment_intent") or charge_to_intent.get(listing.object_id(r.get("charge"))))
        in our_intents
        or str((r.get("metadata") or {}).get("attempt", "")).startswith(prefix)
    }
    seen = set()
    for txn in local:
        seen.add(txn.stripe_id)
        refund = at_stripe.get(txn.stripe_id) or listing.refund_get(txn.stripe_id)
        record = f"Refund transaction #{txn.pk} (invoice #{txn.invoice_id})"
        if refund is None:
            findings.add(
                K.MISSING_AT_STRIPE,
                "refund",
                record=record,
                stripe_ids=[txn.stripe_id],
                local=f"{format_money(txn.amount, txn.currency)}, done",
                message=f"We recorded refund {txn.stripe_id}, but Stripe has no such refund.",
            )
            continue
        at_stripe.setdefault(refund["id"], refund)
        amount, currency = _money(refund["amount"], refund["currency"])
        findings.compare_amounts(
            "refund",
            record=record,
            stripe_id=refund["id"],
            local=(txn.amount, txn.currency),
            stripe=(amount, currency),
            message=f"We recorded a refund of {{local}} for {refund['id']}; Stripe refunded {{stripe}}.",
        )
        if refund.get("status") not in REFUND_OK:
            findings.add(
                K.STATUS_DIFFERS,
                "refund",
                record=record,
                stripe_ids=[refund["id"]],
                local="done",
                stripe=str(refund.get("status")),
                message=f"Our refund is done, but Stripe's refund {refund['id']} is {refund.get('status')}.",
            )
    unrecorded = [
        r
        for r_id, r in at_stripe.items()
        if r_id not in seen and r.get("status") in REFUND_OK + REFUND_WAITING
    ]
    ids = [r["id"] for r in unrecorded]
    known = {
        txn.stripe_id: txn
        for txn in Transaction.objects.filter(kind=Transaction.Kind.REFUND, stripe_id__in=ids)
    }
    for attempt in Attempt.objects.filter(stripe_id__in=ids).select_related("transaction"):
        known.setdefault(attempt.stripe_id, attempt.transaction)
    for refund in unrecorded:
        amount, currency = _money(refund["amount"], refund["currency"])
        paid = (
            refund.get("payment_intent")
            or charge_to_intent.get(listing.object_id(refund.get("charge")))
            or ""
        )
        txn = known.get(refund["id"])
        if refund.get("status") in REFUND_WAITING and (
            txn is None or txn.status in Transaction.OPEN_STATUSES
        ):
            continue  # not settled at Stripe yet; ours (if any) is still open, as it should be
        if txn is None:
            findings.add(
                K.MISSING_LOCALLY,
                "refund",
                stripe_ids=[refund["id"], paid],
                stripe=f"{format_money(amount, currency)}, {refund.get('status')}",
                message=f"Stripe refunded {format_money(amount, currency)} of {paid or 'a payment of ours'} "
                f"({refund['id']}) but no refund of ours records it.",
            )
        elif txn.status != Transaction.Status.DONE:
            findings.add(
                K.STATUS_DIFFERS,
                "refund",
                record=f"Refund transaction #{txn.pk} (invoice #{txn.invoice_id})",
                stripe_ids=[refund["id"]],
                local=txn.get_status_display().lower(),
                stripe=str(refund.get("status")),
                message=f"Stripe refunded {refund['id']}, but our refund is {txn.get_status_display().lower()}.",
            )
    findings.checked["refunds"] += len(seen | set(at_stripe))


def _disputes(findings: Findings, since: datetime, intents: dict, charge_to_intent: dict) -> None:
    """Disputes on our payments at Stripe against the disputes we recorded: missing on
    either side, a different amount, or a different outcome (open, won, lost)."""
    local = {d.stripe_id: d for d in Dispute.objects.filter(opened_at__gte=since).order_by("pk")}
    at_stripe = {
        d["id"]: d
        for d in listing.disputes_since(since)
        if (d.get("payment_intent") or charge_to_intent.get(listing.object_id(d.get("charge")))) in intents
        or d["id"] in local
    }
    for dispute_id, recorded in local.items():
        if dispute_id not in at_stripe:
            found = listing.dispute_get(dispute_id)
            if found is None:
                findings.add(
                    K.MISSING_AT_STRIPE,
                    "dispute",
                    record=f"Dispute #{recorded.pk} (invoice #{recorded.invoice_id})",
                    stripe_ids=[dispute_id],
                    local=f"{format_money(recorded.amount, recorded.currency)}, {recorded.get_status_display().lower()}",
                    message=f"We recorded dispute {dispute_id}, but Stripe has no such dispute.",
                )
                continue
            at_stripe[dispute_id] = found
    recorded_elsewhere = set(
        Dispute.objects.filter(stripe_id__in=[i for i in at_stripe if i not in local]).values_list(
            "stripe_id", flat=True
        )
    )
    for dispute in at_stripe.values():
        amount, currency = _money(dispute["amount"], dispute["currency"])
        paid = dispute.get("payment_intent") or charge_to_intent.get(listing.object_id(dispute.get("charge")))
        recorded = local.get(dispute["id"])
        if recorded is None:
            if dispute["id"] in recorded_elsewhere:
                continue  # recorded before `since`; its payment is newer
            findings.add(
                K.MISSING_LOCALLY,
                "dispute",
                stripe_ids=[dispute["id"], paid],
                stripe=f"{format_money(amount, currency)}, {dispute.get('status')} ({dispute.get('reason')})",
                message=f"The customer's bank disputes {format_money(amount, currency)} of {paid} "
                f"({dispute['id']}, {dispute.get('status')}); not recorded locally.",
            )
            continue
        record = f"Dispute #{recorded.pk} (invoice #{recorded.invoice_id})"
        findings.compare_amounts(
            "dispute",
            record=record,
            stripe_id=dispute["id"],
            local=(recorded.amount, recorded.currency),
            stripe=(amount, currency),
            message=f"We recorded a dispute of {{local}} for {dispute['id']}; Stripe's is {{stripe}}.",
        )
        outcome = dispute_status_from_stripe(str(dispute.get("status")))
        if outcome != recorded.status:
            findings.add(
                K.STATUS_DIFFERS,
                "dispute",
                record=record,
                stripe_ids=[dispute["id"]],
                local=recorded.get_status_display().lower(),
                stripe=str(dispute.get("status")),
                message=f"Our dispute {dispute['id']} is {recorded.get_status_display().lower()}, "
                f"but Stripe's is {dispute.get('status')}.",
            )
    findings.checked["disputes"] += len(at_stripe)
