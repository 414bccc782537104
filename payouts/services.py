"""
Payout services. The order side hands completed and refunded orders over through the two
functions below, inside the transaction that changes the order, so an order's status and
its seller's money can never disagree.
"""


def earning_create_for_completed_order(*, order) -> None:
    """Record what the seller earns for a completed order.

    The seam the orders app calls when an order completes. The earning itself (gross minus
    fee, `available_on` = completion date + N, a ledger journal) arrives with the payouts
    feature; until then completion hands over nothing, and a test holds the seam in place.
    """


def earning_reverse_for_refunded_order(*, order) -> None:
    """Reverse, or claw back after payout, the earning of a refunded order (same seam)."""
