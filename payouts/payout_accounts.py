"""
Services for a seller's payout account: where their money goes. Sellers set it up
themselves on `/seller/payouts/account/`:

- bank transfer (the manual provider): holder name and IBAN (+ BIC), or a US routing and
  account number, checked by `payouts.bank_details`;
- Stripe Connect: the platform creates the seller's connected account and sends them to
  Stripe's hosted onboarding with an Account Link; what Stripe then allows is read back
  from Stripe (on return, and on every `account.updated` webhook).

A change of where the money goes, once it had somewhere to go or money is waiting to go
(`payout_account_change_needs_password`), needs the seller's password, emails them, and
holds their payouts for the cooling-off period of Payout Cycle Settings: if someone else
took over the seller's login, the seller has days to notice before any money follows the
new details. Any change cancels the payouts already built and not yet sent (the money
waits in the balance); they go out on the first payout date after the cooling-off.

Lock order: the seller's PayoutAccount, then their Payouts (`marketplace/locking.py`).
"""

import logging
from collections.abc import Callable
from datetime import timedelta

import stripe
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from finance.models import PayoutCycleSettings
from marketplace.exceptions import ApplicationError
from marketplace.outbox import outbox_email
from marketplace.platform_time import date_text, datetime_text
from stripe_integration import connect
from stripe_integration.client import GatewayUnavailable

from .bank_details import BankDetails, bank_details_clean
from .models import Earning, PayoutAccount, PayoutDetailsChange
from .password_limit import PASSWORD_PAUSED, PasswordPaused  # noqa: F401 (what the views and tests name)
from .services import payouts_cancel_unsent

logger = logging.getLogger(__name__)

Provider = PayoutCycleSettings.Provider

WRONG_PASSWORD = "That is not your password. Changing where your money goes needs your current password."
NOT_OFFERED = "The platform does not pay sellers by {what} at the moment."
NO_STRIPE_ACCOUNT = "You have not started setting up Stripe yet."


def _account_locked(seller) -> PayoutAccount:
    PayoutAccount.objects.get_or_create(seller=seller)
    return PayoutAccount.objects.select_for_update().get(seller=seller)


def payout_account_change_needs_password(*, seller, account: PayoutAccount | None) -> bool:
    """Whether the seller's money already has somewhere to go, or is waiting to go: saying
    where (again) then needs the password and starts the cooling-off. An account with any
    change in its log counts (also one whose details staff once typed, which sellers must
    now enter themselves), and so does money waiting in the balance: otherwise whoever
    holds a stolen session could send it to their own account, unasked and at once. Only a
    first setup with nothing earned yet needs neither."""
    if account is not None:
        if account.provider == Provider.MANUAL and account.bank_details_complete:
            return True
        if account.provider == Provider.STRIPE_CONNECT and account.stripe_payouts_enabled:
            return True
        if account.pk and account.changes.exists():
            return True
    return Earning.objects.filter(seller=seller, payout__isnull=True, reversed_at__isnull=True).exists()


def _offered(provider: str) -> None:
    config = PayoutCycleSettings.load()
    if provider not in config.providers_offered():
        what = "bank transfer" if provider == Provider.MANUAL else "Stripe Connect"
        raise ApplicationError(NOT_OFFERED.format(what=what))


PasswordCheck = Callable[[str], bool]


def _password_checked(seller, password: str, password_check: PasswordCheck | None) -> None:
    """`password_check` is how the caller verifies it (the web view's counts wrong ones
    towards the form's own limit, `payouts.password_limit`, so the password cannot be
    guessed here); by default the stored hash."""
    check = password_check or seller.check_password
    if not check(password or ""):
        raise ApplicationError(WRONG_PASSWORD)


def _changed(account: PayoutAccount, *, by, description: str, cooling_off: bool) -> None:
    """Record a change of where the money goes, cancel the payouts built and not yet sent
    (they were built for the old destination; their money waits in the balance), and tell
    the seller; with `cooling_off`, hold payouts through today + N days (platform
    timezone). Runs in the caller's transaction, with the account locked."""
    config = PayoutCycleSettings.load()
    now = timezone.now()
    through = None
    if cooling_off and config.cooling_off_days:
        through = config.today(now) + timedelta(days=config.cooling_off_days)
        account.cooling_off_through = max(through, account.cooling_off_through or through)
    account.details_changed_at = now
    account.save()
    PayoutDetailsChange.objects.create(
        account=account, changed_by=by, description=description[:300], cooling_off_through=through
    )
    _cancel_unsent_payouts(account, by=by, through=through)
    _changed_email(account, description=description, through=through, config=config)


def _cancel_unsent_payouts(account: PayoutAccount, *, by, through) -> None:
    """Whatever the cooling-off (even none), a payout built for the old destination is
    never sent to it."""
    reason = "Held: the seller changed where their money goes. It is paid on the first payout date " + (
        "after the cooling-off period." if through else "on which the new details can be paid."
    )
    payouts_cancel_unsent(seller_id=account.seller_id, reason=reason, by=by)


def _changed_email(account: PayoutAccount, *, description: str, through, config: PayoutCycleSettings) -> None:
    when = account.details_changed_at.astimezone(config.tz)
    lines = [
        f"Where your payouts go was {'changed' if through else 'set'} on {datetime_text(when)} "
        f"({config.timezone}): {description}.",
    ]
    if through:
        lines.append(
            f"For your safety, payouts are held until the cooling-off period ends on {date_text(through)}; "
            "your balance is safe and goes out on the first payout date after that."
        )
    lines.append(
        "If you did not make this change, change your password now and contact support, who can hold "
        "your payouts while it is sorted out."
    )
    outbox_email(
        to=account.seller.email,
        template_prefix="payouts/email/notice",
        context={
            "subject": "Your payout details were changed" if through else "Your payout details were saved",
            "lines": lines,
            "action_url": settings.SITE_URL + reverse("payouts:payout_account"),
            "action_label": "See your payout settings",
        },
    )


# --- bank transfer -------------------------------------------------------------------------


def payout_account_bank_details_set(
    *, seller, password: str, details: dict, by=None, password_check: PasswordCheck | None = None
) -> PayoutAccount:
    """Save the seller's bank details (`details`: scheme, holder_name, iban, bic,
    routing_number, account_number) after checking them and the seller's password, and
    choose bank transfer. Replacing earlier details (or a Stripe account) starts the
    cooling-off. Invalid details raise `BankDetailsInvalid` and change nothing."""
    _offered(Provider.MANUAL)
    clean: BankDetails = bank_details_clean(**details)
    # Checked outside any transaction, so the throttle's record of a wrong password is
    # not rolled back with the refused change.
    checked = payout_account_change_needs_password(
        seller=seller, account=PayoutAccount.objects.filter(seller=seller).first()
    )
    if checked:
        _password_checked(seller, password, password_check)
    with transaction.atomic():
        account = _account_locked(seller)
        had = payout_account_change_needs_password(seller=seller, account=account)
        if had and not checked:  # set up by another request a moment ago
            _password_checked(seller, password, None)
        same = account.provider == Provider.MANUAL and (
            account.bank_scheme,
            account.holder_name,
            account.iban,
            account.bic,
            account.routing_number,
            account.account_number,
        ) == (
            clean.scheme,
            clean.holder_name,
            clean.iban,
            clean.bic,
            clean.routing_number,
            clean.account_number,
        )
        if same:
            return account
        before = account.bank_details_masked if account.provider == Provider.MANUAL else "Stripe Connect"
        account.provider = Provider.MANUAL
        account.bank_scheme = clean.scheme
        account.holder_name = clean.holder_name
        account.iban, account.bic = clean.iban, clean.bic
        account.routing_number, account.account_number = clean.routing_number, clean.account_number
        description = f"bank transfer to {clean.holder_name}, {clean.masked()}"
        if had:
            description += f" (was: {before})"
        _changed(account, by=by or seller, description=description, cooling_off=had)
    return account


# --- Stripe Connect ------------------------------------------------------------------------


def _stripe_urls() -> tuple[str, str]:
    """Where Stripe sends the seller back: this site's public address (SITE_URL, as in
    every email), never one built from the request, which behind a TLS proxy says http://."""
    site = settings.SITE_URL.rstrip("/")
    return site + reverse("payouts:stripe_refresh"), site + reverse("payouts:stripe_return")


def payout_account_stripe_onboarding_start(
    *, seller, password: str, by=None, password_check: PasswordCheck | None = None
) -> str:
    """Choose Stripe Connect and start (or continue) its onboarding: create the seller's
    connected account at Stripe once (an idempotency key per seller, so a double click
    makes one), then an Account Link; returns the URL to send the seller to.
    Switching from bank details to Stripe is a change of where the money goes: password,
    email and cooling-off."""
    _offered(Provider.STRIPE_CONNECT)
    # Nothing is written before Stripe has answered, so a refusal changes nothing; the
    # password is checked outside any transaction (the throttle's record must stay).
    account = PayoutAccount.objects.filter(seller=seller).first()
    switching = (
        account is None or account.provider != Provider.STRIPE_CONNECT
    ) and payout_account_change_needs_password(seller=seller, account=account)
    if switching:
        _password_checked(seller, password, password_check)
    account_id = account.stripe_account_id if account else ""
    if not account_id:
        # Outside any transaction: a Stripe call never holds a row lock.
        account_id = connect.account_create(
            email=seller.email,
            metadata={"seller_id": str(seller.pk)},
            idempotency_key=f"{settings.STRIPE_IDEMPOTENCY_NAMESPACE}:connect-account-seller-{seller.pk}",
        )
    with transaction.atomic():
        account = _account_locked(seller)
        if not account.stripe_account_id:
            account.stripe_account_id = account_id
        if account.provider != Provider.STRIPE_CONNECT:
            before = account.bank_details_masked or "nothing"
            account.provider = Provider.STRIPE_CONNECT
            _changed(
                account,
                by=by or seller,
                description=f"Stripe Connect, account {account.stripe_account_id} (was: {before})",
                cooling_off=switching,
            )
        else:
            account.save()
    return payout_account_stripe_link(seller=seller)


def payout_account_stripe_link(*, seller) -> str:
    """A fresh onboarding link for the seller's connected account (the "Continue with
    Stripe" button, and Stripe's refresh URL when a link expired or was used)."""
    account = PayoutAccount.objects.filter(seller=seller).first()
    if account is None or not account.stripe_account_id or account.provider != Provider.STRIPE_CONNECT:
        raise ApplicationError(NO_STRIPE_ACCOUNT)
    _offered(Provider.STRIPE_CONNECT)
    refresh_url, return_url = _stripe_urls()
    return connect.account_link_create(
        account_id=account.stripe_account_id, refresh_url=refresh_url, return_url=return_url
    )


def payout_account_stripe_state_apply(*, stripe_account: dict) -> PayoutAccount | None:
    """Store what Stripe says about a connected account (payouts_enabled, what is
    currently due, why it is disabled) on the seller's payout account; None when the
    account is not one of ours. Reads that arrive out of order are harmless: each one is
    Stripe's whole state at the time it was read."""
    requirements = stripe_account.get("requirements") or {}
    with transaction.atomic():
        account = (
            PayoutAccount.objects.select_for_update()
            .filter(stripe_account_id=stripe_account.get("id") or "-")
            .first()
        )
        if account is None:
            return None
        account.stripe_payouts_enabled = bool(stripe_account.get("payouts_enabled"))
        account.stripe_details_submitted = bool(stripe_account.get("details_submitted"))
        account.stripe_requirements_due = list(requirements.get("currently_due") or [])
        account.stripe_disabled_reason = requirements.get("disabled_reason") or ""
        account.stripe_checked_at = timezone.now()
        account.save()
    return account


def payout_account_stripe_sync(*, stripe_account_id: str) -> PayoutAccount | None:
    """Read a connected account back from Stripe and store what it says (on the seller's
    return from onboarding, and for every `account.updated` event, whose own copy may be
    older than what Stripe has now)."""
    if (
        not stripe_account_id
        or not PayoutAccount.objects.filter(stripe_account_id=stripe_account_id).exists()
    ):
        return None  # not a seller's account: nothing to ask Stripe
    return payout_account_stripe_state_apply(
        stripe_account=connect.account_retrieve(account_id=stripe_account_id)
    )


def payout_accounts_stripe_sync_all() -> tuple[int, list[str]]:
    """Read every seller's connected account back from Stripe (daily, in case a webhook
    was lost; and once after upgrading, for accounts staff typed in before sellers
    onboarded themselves). Returns how many were read and the ids Stripe did not answer
    for, which the next run tries again."""
    read, failed = 0, []
    for account_id in (
        PayoutAccount.objects.exclude(stripe_account_id="")
        .order_by("pk")
        .values_list("stripe_account_id", flat=True)
    ):
        try:
            payout_account_stripe_sync(stripe_account_id=account_id)
            read += 1
        except (GatewayUnavailable, stripe.StripeError):  # one account's trouble must not stop the others
            logger.exception("Could not read connected account %s back from Stripe", account_id)
            failed.append(account_id)
    return read, failed
