"""The two emails sellers get about payouts: sent, and failed (with when it goes out again).
Rendered inside the transaction that changes the payout and queued in the outbox."""

from datetime import timedelta

from django.conf import settings
from django.urls import reverse

from finance.models import PayoutCycleSettings
from marketplace.money import format_money
from marketplace.outbox import outbox_email
from marketplace.platform_time import date_text

from .models import Earning, Payout
from .schedule import schedule_for

TEMPLATE = "payouts/email/notice"


def payout_email_send(*, kind: str, payout_id: int) -> bool:
    payout = Payout.objects.select_related("seller").get(pk=payout_id)
    amount = format_money(payout.amount, payout.currency)
    lines_count = Earning.objects.filter(seller_id=payout.seller_id, payout=payout).count()
    if kind == "payout_sent":
        if payout.status != Payout.Status.PAID:
            return False
        subject = f"Your payout of {amount} is on its way"
        lines = [
            f"We sent {amount}, your payout for {date_text(payout.payout_date)}, covering {lines_count} "
            f"order{'s' if lines_count != 1 else ''} and adjustments.",
            f"Reference: {payout.provider_reference or f'payout #{payout.pk}'}.",
            "Banks usually show it within one to three business days.",
        ]
    elif kind == "payout_failed":
        if payout.status != Payout.Status.FAILED:
            return False
        config = PayoutCycleSettings.load()
        next_date = schedule_for(config).next_payout_date(
            max(config.today(), payout.payout_date) + timedelta(days=1)
        )
        subject = f"Your payout of {amount} did not go through"
        lines = [
            f"Your payout for {date_text(payout.payout_date)} ({amount}) failed: {payout.failure_reason}",
            f"The money is back in your balance and goes out again on {date_text(next_date)}, "
            "the next payout date.",
            "If your bank or Stripe details have changed, please update them before then.",
        ]
    else:
        raise ValueError(f"Unknown payout email {kind!r}")
    outbox_email(
        to=payout.seller.email,
        template_prefix=TEMPLATE,
        context={
            "subject": subject,
            "lines": lines,
            "action_url": settings.SITE_URL + reverse("payouts:seller_payouts"),
        },
    )
    return True
