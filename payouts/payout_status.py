"""
What a seller reads about where their money goes: the payout settings page and the
banner on the payouts page. It words `payouts.payability`'s decision (the same one the
payout runs apply) for the seller, with what to do next, and turns what Stripe still needs
(`requirements.currently_due`, `disabled_reason`) into plain words.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.utils import timezone

from finance.models import PayoutCycleSettings
from marketplace.platform_time import date_text

from .models import PayoutAccount
from .payability import Block, account_payability
from .selectors import first_open_payout_date

# Stripe's requirement names (https://docs.stripe.com/connect/required-verification-information),
# most specific first; a name not listed is shown as Stripe spells it.
REQUIREMENT_WORDS = [
    (
        "individual.verification.document",
        "a photo of your ID document (passport, ID card or driving licence)",
    ),
    ("individual.verification.additional_document", "a document that proves your address"),
    ("individual.dob.", "your date of birth"),
    ("individual.first_name", "your name"),
    ("individual.last_name", "your name"),
    ("individual.address.", "your home address"),
    ("individual.phone", "your phone number"),
    ("individual.email", "your email address"),
    ("individual.id_number", "your national ID number"),
    ("individual.ssn_last_4", "the last 4 digits of your Social Security number"),
    ("business_type", "what kind of business you run"),
    ("business_profile.url", "your shop's website"),
    ("business_profile.mcc", "what you sell"),
    ("business_profile.product_description", "a description of what you sell"),
    ("external_account", "the bank account Stripe should pay into"),
    ("tos_acceptance.", "your acceptance of Stripe's terms of service"),
    ("company.", "your company's details"),
    ("representative.", "details of the person who represents the company"),
    ("owners.", "details of the company's owners"),
    ("directors.", "details of the company's directors"),
]

DISABLED_REASON_WORDS = {
    "requirements.past_due": "Stripe needs more information before it can pay you.",
    "requirements.pending_verification": (
        "Stripe is checking the information you gave. This usually takes minutes, sometimes a day or two; "
        "there is nothing to do now."
    ),
    "action_required.requested_capabilities": "Stripe needs you to finish setting up.",
    "under_review": "Stripe is reviewing your account. There is nothing to do now; Stripe emails you if it needs anything.",
    "listed": "Stripe is reviewing your account. Contact support if this lasts more than a few days.",
    "platform_paused": "Payouts to your Stripe account are paused by the platform. Contact support.",
    "rejected.fraud": "Stripe has refused this account. Contact support.",
    "rejected.terms_of_service": "Stripe has refused this account. Contact support.",
    "rejected.listed": "Stripe has refused this account. Contact support.",
    "rejected.other": "Stripe has refused this account. Contact support.",
    "other": "Stripe cannot pay out to this account at the moment. Contact support.",
}


def requirement_words(names) -> list[str]:
    """["individual.dob.day", "individual.dob.month", "external_account"] ->
    ["your date of birth", "the bank account Stripe should pay into"], without repeats."""
    words: list[str] = []
    for name in names or ():
        said = next(
            (
                text
                for key, text in REQUIREMENT_WORDS
                if name == key or (key.endswith(".") and name.startswith(key))
            ),
            name.replace("_", " ").replace(".", " › "),
        )
        if said not in words:
            words.append(said)
    return words


@dataclass
class PayoutStatus:
    """`ready`: the next payout date pays this seller. Otherwise `title` and `message`
    say why not and what to do, and `action_label` names the button that does it."""

    ready: bool
    title: str
    message: str = ""
    block: str = ""
    action_label: str = ""
    stripe_due: list[str] = field(default_factory=list)
    resumes_on: date | None = None
    destination: str = ""


def _destination(account: PayoutAccount | None) -> str:
    if account is None:
        return ""
    if account.provider == PayoutCycleSettings.Provider.STRIPE_CONNECT and account.stripe_account_id:
        return f"your Stripe account ({account.stripe_account_id})"
    if account.provider == PayoutCycleSettings.Provider.MANUAL and account.bank_details_complete:
        return f"bank transfer to {account.holder_name}, {account.bank_details_masked}"
    return ""


def seller_payout_status(*, seller, now=None) -> PayoutStatus:
    """Whether the seller is set up to be paid, in their words."""
    config = PayoutCycleSettings.load()
    today = config.today(now or timezone.now())
    account = PayoutAccount.objects.filter(seller=seller).first()
    # Judged for today: details changed a moment ago are cooling off now, even when the
    # next payout date falls after the cooling-off ends.
    decision = account_payability(account, payout_date=today, config=config)
    destination = _destination(account)
    if decision.payable:
        return PayoutStatus(
            ready=True,
            title="You're set up to get paid",
            message=f"Payouts go to {destination}.",
            destination=destination,
        )
    block = decision.block
    status = PayoutStatus(ready=False, title="", block=block, destination=destination)
    if block == Block.ON_HOLD:
        status.title = "Your payouts are on hold"
        status.message = (
            f"Your payouts are on hold{': ' + decision.hold_reason if decision.hold_reason else ''}. "
            "Your balance is safe. Contact support to lift the hold."
        )
    elif block == Block.NOT_SET_UP:
        status.title = "Set up how you get paid"
        status.message = "Choose how you want to receive your money. Until you do, your balance waits here."
        status.action_label = "Set up payouts"
    elif block == Block.PROVIDER_NOT_OFFERED:
        status.title = "Choose another way to be paid"
        status.message = (
            "The platform no longer pays sellers the way you chose. Your balance waits here until you choose "
            "one of the ways below."
        )
        status.action_label = "Choose how to be paid"
    elif block == Block.STRIPE_NOT_READY:
        status.stripe_due = requirement_words(decision.stripe_requirements_due)
        reason = DISABLED_REASON_WORDS.get(decision.stripe_disabled_reason, "")
        if account.stripe_details_submitted:
            status.title = "Stripe needs something more before it can pay you"
            if not (status.stripe_due and decision.stripe_disabled_reason == "requirements.past_due"):
                status.message = reason or "Stripe cannot pay out to your account yet."
            status.action_label = "Continue with Stripe" if status.stripe_due else ""
        else:
            status.title = "Finish setting up with Stripe"
            status.message = (
                "Stripe needs a few details before it can send you money. It takes about five minutes."
            )
            status.action_label = "Continue with Stripe"
    elif block == Block.BANK_DETAILS_INCOMPLETE:
        status.title = "Enter your bank details"
        status.message = "Your bank details are incomplete. Until they are complete, your balance waits here."
        status.action_label = "Enter bank details"
    elif block == Block.COOLING_OFF:
        status.resumes_on = first_open_payout_date(config, decision.cooling_off_through + timedelta(days=1))
        status.title = "Your new payout details are in a cooling-off period"
        status.message = (
            f"You changed where your money goes, so for your safety payouts wait until "
            f"{date_text(decision.cooling_off_through)}. Your next payout goes to {destination} on "
            f"{date_text(status.resumes_on)}. If you did not make this change, contact support now."
        )
    return status
