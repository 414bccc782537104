"""
Stripe Connect: sellers' connected accounts and the transfers that pay them. The same
pacing, transport retries and idempotency keys as every other call (`client`).
"""

import stripe

from marketplace.money import to_stripe_amount

from .client import _call


def account_create(*, email: str, idempotency_key: str) -> str:
    """A connected account for a seller (an Express account); returns its acct_ id."""
    account, _ = _call(stripe.Account.create, type="express", email=email, idempotency_key=idempotency_key)
    return account["id"]


def transfer_create(
    *, destination: str, amount: int, currency: str, transfer_group: str, idempotency_key: str, metadata: dict
) -> dict:
    """Move money to a connected account. Raises stripe.StripeError when Stripe refuses,
    GatewayUnavailable when it does not answer (resend with the same key)."""
    transfer, _ = _call(
        stripe.Transfer.create,
        destination=destination,
        amount=to_stripe_amount(amount, currency),
        currency=currency.lower(),
        transfer_group=transfer_group,
        metadata=metadata,
        idempotency_key=idempotency_key,
    )
    return transfer


def transfer_reverse(*, transfer_id: str, idempotency_key: str) -> dict:
    reversal, _ = _call(stripe.Transfer.create_reversal, transfer_id, idempotency_key=idempotency_key)
    return reversal
