"""Payouts' status changes as staff read them in the admin's status history: one sentence
each, saying who did what (`who` is a person's name, or None when the worker or Stripe's
answer made the change). Registered in PayoutsConfig.ready()."""

from marketplace.admin_parts import state_sentences_register
from marketplace.money import format_money

from .models import Payout


def _payout(p: Payout) -> str:
    return f"the payout of {format_money(p.amount, p.currency)} to {p.seller}"


def _by(who, done: str, passive: str) -> str:
    return f"{who} {done}" if who else passive


PAYOUT = {
    "submit": lambda p, who, note: _by(who, f"sent {_payout(p)}", f"{_payout(p).capitalize()} was sent"),
    "mark_paid": lambda p, who, note: _by(
        who,
        f"marked {_payout(p)} paid"
        + (f" (reference {p.provider_reference})" if p.provider_reference else ""),
        f"{_payout(p).capitalize()} was paid",
    ),
    "fail": lambda p, who, note: _by(
        who,
        f"marked {_payout(p)} failed; the money went back to the seller's balance",
        f"{_payout(p).capitalize()} failed; the money went back to the seller's balance",
    ),
    "cancel": lambda p, who, note: _by(
        who,
        f"canceled {_payout(p)}; the money went back to the seller's balance",
        f"{_payout(p).capitalize()} was canceled; the money went back to the seller's balance",
    ),
}


def register() -> None:
    state_sentences_register(Payout, PAYOUT)
