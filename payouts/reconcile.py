"""
Payouts' part of the reconciliation with Stripe (marketplace/reconciliation.py): each
Stripe Connect payout against its transfer.

What is ours at Stripe: the transfers our payouts point at, and every transfer to one of
our sellers' connected accounts. A payout's transfers are found by its transfer group
and its seller's account (the group alone names a date and a seller id, which another
system could reuse).
"""

from collections import defaultdict
from datetime import datetime

from django.db.models import Q

from finance.models import PayoutCycleSettings
from marketplace.money import format_money, from_stripe_amount
from marketplace.reconciliation import DifferenceKind as K
from marketplace.reconciliation import Findings
from stripe_integration import listing

from .models import Payout, PayoutAccount


def stripe_differences(*, since: datetime) -> Findings:
    """Stripe Connect payouts sent since `since` (and transfers made since then to our
    sellers) that differ from Stripe."""
    findings = Findings()
    accounts = dict(
        PayoutAccount.objects.exclude(stripe_account_id="").values_list("seller_id", "stripe_account_id")
    )
    ours = set(accounts.values())
    transfers = {
        t["id"]: t for t in listing.transfers_since(since) if listing.object_id(t.get("destination")) in ours
    }
    by_group = defaultdict(list)
    for transfer in transfers.values():
        by_group[(transfer.get("transfer_group"), listing.object_id(transfer.get("destination")))].append(
            transfer
        )
    payouts = (
        Payout.objects.filter(provider=PayoutCycleSettings.Provider.STRIPE_CONNECT)
        .filter(Q(submitted_at__gte=since) | Q(payout_date__gte=since.date()))
        .filter(~Q(provider_reference="") | Q(status__in=[Payout.Status.PROCESSING, Payout.Status.PAID]))
        .order_by("pk")
    )
    matched = set()
    for payout in payouts:
        group = by_group.get((payout.transfer_group, accounts.get(payout.seller_id)), [])
        matched.update(t["id"] for t in group)
        _payout(findings, payout, group, transfers)
        if payout.provider_reference:
            matched.add(payout.provider_reference)
    known = set(
        Payout.objects.filter(provider_reference__in=[t for t in transfers if t not in matched]).values_list(
            "provider_reference", flat=True
        )
    )
    for transfer_id, transfer in transfers.items():
        if transfer_id in matched or transfer_id in known:
            continue  # known: a payout from before `since` whose transfer is newer
        amount, currency = _money(transfer)
        findings.add(
            K.MISSING_LOCALLY,
            "transfer",
            stripe_ids=[transfer_id],
            stripe=_transfer_words(transfer),
            message=f"Stripe transferred {format_money(amount, currency)} to {transfer.get('destination')} "
            f"({transfer_id}, group {transfer.get('transfer_group') or 'none'}) but no payout of ours records it.",
        )
    findings.checked["transfers"] += len(matched | set(transfers))
    return findings


def _money(transfer: dict) -> tuple[int, str]:
    currency = transfer["currency"].upper()
    return from_stripe_amount(transfer["amount"], currency), currency


def _transfer_words(transfer: dict) -> str:
    amount, currency = _money(transfer)
    return f"{format_money(amount, currency)}{', reversed' if transfer.get('reversed') else ''}"


def _payout(findings: Findings, payout: Payout, group: list[dict], transfers: dict) -> None:
    record = f"Payout #{payout.pk} ({payout.payout_date}, seller #{payout.seller_id})"
    local = f"{format_money(payout.amount, payout.currency)}, {payout.get_status_display().lower()}"
    live = [t for t in group if not t.get("reversed")]
    if len(live) > 1:
        findings.add(
            K.DUPLICATE_TRANSFER,
            "transfer",
            record=record,
            stripe_ids=[t["id"] for t in live],
            local=local,
            stripe="; ".join(f"{t['id']}: {_transfer_words(t)}" for t in live),
            message=f"Stripe holds {len(live)} transfers for one payout (group {payout.transfer_group}); "
            f"we recorded {payout.provider_reference or 'none'}.",
        )
    if not payout.provider_reference:
        if live:
            findings.add(
                K.STATUS_DIFFERS,
                "transfer",
                record=record,
                stripe_ids=[t["id"] for t in live],
                local=local,
                stripe="; ".join(_transfer_words(t) for t in live),
                message=f"Stripe made the transfer, but the payout is {payout.get_status_display().lower()} "
                "with no transfer recorded.",
            )
        return
    transfer = transfers.get(payout.provider_reference) or listing.transfer_get(payout.provider_reference)
    if transfer is None:
        findings.add(
            K.MISSING_AT_STRIPE,
            "transfer",
            record=record,
            stripe_ids=[payout.provider_reference],
            local=local,
            message=f"We recorded transfer {payout.provider_reference}, but Stripe has no such transfer.",
        )
        return
    amount, currency = _money(transfer)
    findings.compare_amounts(
        "transfer",
        record=record,
        stripe_id=transfer["id"],
        local=(payout.amount, payout.currency),
        stripe=(amount, currency),
        message=f"We paid out {{local}}; Stripe transferred {{stripe}} ({transfer['id']}).",
    )
    reversed_ = bool(transfer.get("reversed"))
    if payout.status == Payout.Status.PAID and reversed_:
        message = "The payout is paid, but Stripe reversed its transfer."
    elif payout.status == Payout.Status.FAILED and not reversed_:
        message = (
            "The payout failed (its money went back to the seller's balance), but Stripe's transfer stands."
        )
    else:
        return
    findings.add(
        K.STATUS_DIFFERS,
        "transfer",
        record=record,
        stripe_ids=[transfer["id"]],
        local=local,
        stripe=_transfer_words(transfer),
        message=message,
    )
