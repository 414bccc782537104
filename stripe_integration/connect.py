"""
Stripe Connect: sellers' connected accounts and the transfers that pay them. The same
pacing, transport retries and idempotency keys as every other call (`client`).
"""

import stripe

from marketplace.money import to_stripe_amount

from .client import _call


def account_create(*, email: str, idempotency_key: str, metadata: dict | None = None) -> str:
    """A connected account for a seller (an Express account); returns its acct_ id."""
    account, _ = _call(
        stripe.Account.create,
        type="express",
        email=email,
        metadata=metadata or {},
        idempotency_key=idempotency_key,
    )
    return account["id"]


def account_retrieve(*, account_id: str) -> dict:
    """The connected account as Stripe has it now (payouts_enabled, requirements, ...)."""
    account, _ = _call(stripe.Account.retrieve, account_id)
    return account


def account_link_create(*, account_id: str, refresh_url: str, return_url: str) -> str:
    """A one-time link to Stripe's hosted onboarding for the account; returns its URL.
    Stripe sends the seller to `return_url` when they leave it, and to `refresh_url` when
    the link has expired or was used already (make a new one there)."""
    link, _ = _call(
        stripe.AccountLink.create,
        account=account_id,
        refresh_url=refresh_url,
        return_url=return_url,
        type="account_onboarding",
    )
    return link["url"]


def transfer_create(
    *, destination: str, amount: int, currency: str, transfer_group: str, idempotency_key: str, metadata: dict
) -> dict:
    """Move money to a connected account. Raises stripe.StripeError when Stripe refuses,
    GatewayUnavailable when it does not answer, or answers 409 because a request with
    this key is still in progress (resend with the same key)."""
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


def transfers_in_group(*, transfer_group: str) -> list[dict]:
    """Every transfer Stripe has in a transfer group, oldest first (Stripe lists newest
    first, a page at a time)."""
    transfers, starting_after = [], None
    while True:
        params = {"transfer_group": transfer_group, "limit": 100}
        if starting_after:
            params["starting_after"] = starting_after
        page, _ = _call(stripe.Transfer.list, **params)
        data = page.get("data") or []
        transfers.extend(data)
        if not page.get("has_more") or not data:
            break
        starting_after = data[-1]["id"]
    return list(reversed(transfers))


def transfer_reverse(*, transfer_id: str, idempotency_key: str) -> dict:
    reversal, _ = _call(stripe.Transfer.create_reversal, transfer_id, idempotency_key=idempotency_key)
    return reversal
