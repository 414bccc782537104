"""
The order-level money invariants `check_ledger` adds to the ledger's own (the command
collects every app's `ledger_checks` module, as it collects `periodic` and `demo`): an
order, its invoice and its seller's earning lines tell the same story of what went back
to the buyer.

- An order's refunded amount equals its invoice's refunds plus its lost disputes.
- For a completed order, what its earning lines took back equals the refunded amount:
  refunds before completion were never earned (the sale's gross is the total less them),
  a full refund before payout reverses the sale, every other refund adds a negative line
  of its gross.
"""

from django.db.models import Q, Sum

from billing.models import Dispute
from payouts.ledger import LedgerProblem
from payouts.models import Earning

from .models import Order


def ledger_problems(*, limit: int = 20) -> list[LedgerProblem]:
    problems: list[LedgerProblem] = []
    touched = (
        Order.objects.filter(
            Q(amount_refunded__gt=0) | Q(invoice__amount_refunded__gt=0) | Q(invoice__disputes__status="lost")
        )
        .select_related("invoice")
        .distinct()
        .order_by("pk")
    )
    for order in touched.iterator():
        invoice = getattr(order, "invoice", None)
        lost = (
            Dispute.objects.filter(invoice=invoice, status=Dispute.Status.LOST).aggregate(
                total=Sum("amount")
            )["total"]
            if invoice
            else None
        ) or 0
        billed_back = (invoice.amount_refunded if invoice else order.amount_refunded) + lost
        if billed_back != order.amount_refunded:
            problems.append(
                LedgerProblem(
                    "order refunds differ from its invoice",
                    f"order #{order.pk} has {order.amount_refunded} refunded but its invoice "
                    f"{invoice.amount_refunded if invoice else '-'} refunded and {lost} lost in disputes",
                )
            )
        lines = list(Earning.objects.filter(order=order))
        sale = next((line for line in lines if line.kind == Earning.Kind.SALE), None)
        if sale is not None:
            taken = (order.total_amount - sale.gross_amount) + (sale.gross_amount if sale.reversed_at else 0)
            taken += sum(line.gross_amount for line in lines if line.kind == Earning.Kind.CLAWBACK)
            if taken != order.amount_refunded:
                problems.append(
                    LedgerProblem(
                        "order refunds differ from the seller's earning",
                        f"order #{order.pk} has {order.amount_refunded} refunded but its earning lines took back {taken}",
                    )
                )
        if len(problems) >= limit:
            break
    return problems
