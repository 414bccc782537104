"""
Who can be paid: the one place that decides whether a seller's money may go out on a
payout date, and if not, why. A payout run asks it once per chunk of sellers
(`sellers_payability`) and carries forward the balance of every seller it holds; the
seller's page, the admin and the bank export ask the same function, so they can never
disagree with the run.

A seller cannot be paid while (first reason wins):

1. staff hold their payouts (`PayoutAccount.on_hold`);
2. they have not said where their money goes (no account, no provider chosen);
3. asked about a payout already built: the seller now wants to be paid another way than
   the payout's (its money must not go to the account they left);
4. the way they chose is no longer offered by the platform (Payout Cycle Settings);
5. Stripe Connect: Stripe does not allow payouts to their account yet
   (`payouts_enabled` false: onboarding unfinished, or Stripe needs more);
6. bank transfer: their bank details are incomplete;
7. they changed where their money goes and the cooling-off period (Payout Cycle Settings,
   default 3 days) has not ended: they are paid from the first payout date after it.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db import models

from finance.models import PayoutCycleSettings

from .models import PayoutAccount


class Block(models.TextChoices):
    """Why a seller cannot be paid, in staff's words (the seller's are below)."""

    ON_HOLD = "on_hold", "Held by staff"
    NOT_SET_UP = "not_set_up", "Has not set up how to be paid"
    PROVIDER_CHANGED = "provider_changed", "Now paid another way than this payout's"
    PROVIDER_NOT_OFFERED = "provider_not_offered", "Chose a way of being paid the platform no longer offers"
    STRIPE_NOT_READY = "stripe_not_ready", "Stripe does not allow payouts yet"
    BANK_DETAILS_INCOMPLETE = "bank_details_incomplete", "Bank details incomplete"
    COOLING_OFF = "cooling_off", "Details changed: in the cooling-off period"


@dataclass(frozen=True)
class Payability:
    """Whether one seller can be paid on a payout date, and through which provider."""

    provider: str = ""
    block: str = ""  # a Block value; empty when the seller can be paid
    cooling_off_through: date | None = None
    hold_reason: str = ""
    stripe_requirements_due: tuple = ()
    stripe_disabled_reason: str = ""

    @property
    def payable(self) -> bool:
        return not self.block

    @property
    def block_label(self) -> str:
        return Block(self.block).label if self.block else ""


def account_payability(
    account: PayoutAccount | None, *, payout_date: date, config: PayoutCycleSettings, provider: str = ""
) -> Payability:
    """The decision for one seller's account (None: the seller has none) on a payout date;
    `provider`: the way a payout already built is paid, which must still be the seller's."""
    if account is None:
        return Payability(block=Block.NOT_SET_UP)
    base = {
        "provider": account.provider,
        "cooling_off_through": account.cooling_off_through,
        "hold_reason": account.hold_reason,
        "stripe_requirements_due": tuple(account.stripe_requirements_due or ()),
        "stripe_disabled_reason": account.stripe_disabled_reason,
    }
    if account.on_hold:
        block = Block.ON_HOLD
    elif not account.provider:
        block = Block.NOT_SET_UP
    elif provider and provider != account.provider:
        block = Block.PROVIDER_CHANGED
    elif account.provider not in config.providers_offered():
        block = Block.PROVIDER_NOT_OFFERED
    elif account.provider == PayoutCycleSettings.Provider.STRIPE_CONNECT and not (
        account.stripe_account_id and account.stripe_payouts_enabled
    ):
        block = Block.STRIPE_NOT_READY
    elif account.provider == PayoutCycleSettings.Provider.MANUAL and not account.bank_details_complete:
        block = Block.BANK_DETAILS_INCOMPLETE
    elif account.cooling_off_through and account.cooling_off_through >= payout_date:
        block = Block.COOLING_OFF
    else:
        block = ""
    return Payability(block=block, **base)


def sellers_payability(
    *,
    seller_ids: Iterable[int],
    payout_date: date,
    config: PayoutCycleSettings | None = None,
    lock: bool = False,
    provider: str = "",
) -> dict[int, Payability]:
    """Whether each of these sellers can be paid on `payout_date`: one query for the lot
    (a payout run passes one chunk of sellers at a time). Every id given has an answer.
    `provider`: asked about payouts already built, all paid that way.

    `lock` (inside a transaction that builds payouts): the accounts are locked until it
    commits, so a seller changing their details waits for the payouts built on the old
    ones and then holds them (`payouts.payout_accounts`); the lock order puts a seller's
    PayoutAccount before their Payouts."""
    config = config or PayoutCycleSettings.load()
    ids = set(seller_ids)
    accounts_query = PayoutAccount.objects.filter(seller_id__in=ids).order_by("pk")
    if lock:
        # FOR NO KEY UPDATE: waits for (and blocks) a details change, not other readers.
        accounts_query = accounts_query.select_for_update(no_key=True)
    accounts = {a.seller_id: a for a in accounts_query}
    return {
        seller_id: account_payability(
            accounts.get(seller_id), payout_date=payout_date, config=config, provider=provider
        )
        for seller_id in ids
    }


def seller_payability(*, seller_id: int, payout_date: date, config: PayoutCycleSettings | None = None):
    return sellers_payability(seller_ids=[seller_id], payout_date=payout_date, config=config)[seller_id]
