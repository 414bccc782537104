import logging

import stripe
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts.decorators import seller_required
from finance.models import PayoutCycleSettings
from marketplace.exceptions import ApplicationError
from stripe_integration.client import GatewayUnavailable

from . import payout_accounts
from .bank_details import BankDetailsInvalid
from .forms import BankDetailsForm, PasswordForm
from .models import PayoutAccount
from .password_limit import PasswordPaused, payout_password_check
from .payout_status import seller_payout_status
from .selectors import seller_payouts as seller_payouts_read

logger = logging.getLogger(__name__)

# What the payout settings' forms carry that must never reach an error report or a log.
SENSITIVE_FIELDS = ("password", "iban", "bic", "routing_number", "account_number", "holder_name")

STRIPE_DOWN = "Stripe did not answer just now. Nothing was changed; please try again in a minute."


@seller_required
def seller_payouts(request):
    """Balance pending and available, the next payout, upcoming earnings with their dates,
    adjustments with their reasons, and the payout history; a banner until the seller can
    be paid."""
    return render(
        request,
        "payouts/seller_payouts.html",
        {
            "view": seller_payouts_read(seller=request.user),
            "status": seller_payout_status(seller=request.user),
        },
    )


def _account_page(request, *, bank_form=None, stripe_form=None, status=200):
    account = PayoutAccount.objects.filter(seller=request.user).first()
    offered = PayoutCycleSettings.load().providers_offered()
    if bank_form is None:
        initial = {}
        if account and account.bank_scheme:
            initial = {"bank_scheme": account.bank_scheme, "holder_name": account.holder_name}
        bank_form = BankDetailsForm(initial=initial)
    return render(
        request,
        "payouts/payout_account.html",
        {
            "account": account,
            "status": seller_payout_status(seller=request.user),
            "offers_bank": PayoutCycleSettings.Provider.MANUAL in offered,
            "offers_stripe": PayoutCycleSettings.Provider.STRIPE_CONNECT in offered,
            "bank_form": bank_form,
            "stripe_form": stripe_form or PasswordForm(),
            "needs_password": payout_accounts.payout_account_change_needs_password(
                seller=request.user, account=account
            ),
        },
        status=status,
    )


@seller_required
def payout_account(request):
    """Where the seller's money goes: how they are paid now, what is missing, and the
    ways the platform offers (bank details, Stripe Connect onboarding)."""
    return _account_page(request)


@sensitive_post_parameters(*SENSITIVE_FIELDS)
@seller_required
@require_POST
def bank_details_save(request):
    form = BankDetailsForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            payout_accounts.payout_account_bank_details_set(
                seller=request.user,
                password=form.cleaned_data["password"],
                details=form.details_for_service(),
                password_check=_throttled_password_check(request),
            )
        except BankDetailsInvalid as invalid:
            for name, message in invalid.errors.items():
                form.add_error(name if name in form.fields else None, message)
        except PasswordPaused as exc:
            form.add_error(None, exc.message)
            status = 429
        except ApplicationError as exc:
            form.add_error("password" if exc.message == payout_accounts.WRONG_PASSWORD else None, exc.message)
        else:
            messages.success(request, "Your bank details are saved.")
            return redirect("payouts:payout_account")
    return _account_page(request, bank_form=form, status=status)


def _throttled_password_check(request):
    """The password checked against the form's own limit of wrong ones
    (`payouts.password_limit`), apart from the sign-in's."""

    def check(password: str) -> bool:
        return payout_password_check(seller=request.user, password=password)

    return check


@sensitive_post_parameters(*SENSITIVE_FIELDS)
@seller_required
@require_POST
def stripe_start(request):
    """Choose Stripe Connect and go to Stripe's onboarding (a new tab is not needed: Stripe
    sends the seller back to the return URL)."""
    form = PasswordForm(request.POST)
    form.is_valid()
    try:
        url = payout_accounts.payout_account_stripe_onboarding_start(
            seller=request.user,
            password=form.cleaned_data.get("password", ""),
            password_check=_throttled_password_check(request),
        )
    except PasswordPaused as exc:
        form.add_error(None, exc.message)
        return _account_page(request, stripe_form=form, status=429)
    except ApplicationError as exc:
        form.add_error("password" if exc.message == payout_accounts.WRONG_PASSWORD else None, exc.message)
        return _account_page(request, stripe_form=form, status=400)
    except (GatewayUnavailable, stripe.StripeError) as exc:
        logger.warning("Stripe onboarding could not start for seller #%s: %s", request.user.pk, exc)
        messages.error(request, STRIPE_DOWN)
        return redirect("payouts:payout_account")
    # A page, not a redirect: a redirect after a form's POST to another origin is refused
    # by a Content-Security-Policy form-action 'self'; this page moves on by itself.
    return render(request, "payouts/to_stripe.html", {"url": url})


@seller_required
def stripe_refresh(request):
    """Stripe's refresh URL (and the "Continue with Stripe" button): the link expired or
    was used, so make a new one and go back to Stripe."""
    try:
        url = payout_accounts.payout_account_stripe_link(seller=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("payouts:payout_account")
    except (GatewayUnavailable, stripe.StripeError) as exc:
        logger.warning("No new onboarding link for seller #%s: %s", request.user.pk, exc)
        messages.error(request, STRIPE_DOWN)
        return redirect("payouts:payout_account")
    return redirect(url)


@seller_required
def stripe_return(request):
    """Stripe's return URL: the seller left onboarding (finished or not). Stripe does not
    say which, so read the account back and show what it says."""
    account = PayoutAccount.objects.filter(seller=request.user).exclude(stripe_account_id="").first()
    if account is not None:
        try:
            payout_accounts.payout_account_stripe_sync(stripe_account_id=account.stripe_account_id)
        except (GatewayUnavailable, stripe.StripeError) as exc:
            logger.warning("Could not read seller #%s's Stripe account back: %s", request.user.pk, exc)
            messages.warning(
                request, "Stripe did not answer just now; this page updates as soon as Stripe tells us more."
            )
    return redirect("payouts:payout_account")
