"""Billing's status changes as staff read them in the admin's status history: one
sentence each, saying who did what (`who` is a person's name, or None when the worker or
Stripe's answer made the change). Registered in BillingConfig.ready()."""

from marketplace.admin_parts import state_sentences_register
from marketplace.money import format_money

from .models import REFUND_REFUSED_NOTE, Invoice, Subscription, Transaction


def _money(record) -> str:
    amount = record.total_amount if isinstance(record, Invoice) else record.amount
    return format_money(amount, record.currency)


def _by(who, done: str, passive: str) -> str:
    return f"{who} {done}" if who else passive


def _customer(invoice: Invoice) -> str:
    return str(invoice.customer)


INVOICE = {
    "process": lambda i, who, note: _by(
        who, f"started collecting {_money(i)} from {_customer(i)}", f"Collecting {_money(i)} from {_customer(i)} started"
    ),
    "settle": lambda i, who, note: f"{_customer(i)} paid {_money(i)}",
    "settle_zero": lambda i, who, note: "Nothing was left to pay: the invoice was closed at zero",
    "fail": lambda i, who, note: f"Collecting {_money(i)} failed for now; {_customer(i)} was asked for another card",
    "start_refund": lambda i, who, note: _by(who, f"started a refund to {_customer(i)}", f"A refund to {_customer(i)} started"),
    "finish_full_refund": lambda i, who, note: f"Stripe confirmed the refund: {_customer(i)} got all of {_money(i)} back",
    "finish_partial_refund": lambda i, who, note: (
        f"Stripe refused the refund to {_customer(i)}: nothing was refunded"
        if note.startswith(REFUND_REFUSED_NOTE)
        else f"Stripe confirmed a refund of part of {_money(i)} to {_customer(i)}"
    ),
    "cancel": lambda i, who, note: _by(who, "canceled the invoice", "The invoice was canceled"),
}


def _what(t: Transaction) -> str:
    return f"the {t.get_kind_display().lower()} of {_money(t)}"


TRANSACTION = {
    "succeed_first_time": lambda t, who, note: f"Stripe confirmed {_what(t)}",
    "succeed": lambda t, who, note: f"Stripe confirmed {_what(t)}",
    "retry_later": lambda t, who, note: f"The bank declined {_what(t)} for now; it is tried again later",
    "fail": lambda t, who, note: f"{_what(t).capitalize()} failed for good",
    "cancel": lambda t, who, note: _by(who, f"canceled {_what(t)}", f"{_what(t).capitalize()} was canceled"),
}

SUBSCRIPTION = {
    "mark_past_due": lambda s, who, note: f"A payment of {s.customer}'s {s.plan} subscription failed: it is past due",
    "reactivate": lambda s, who, note: f"{s.customer} paid: the {s.plan} subscription is active again",
    "mark_unpaid": lambda s, who, note: f"The {s.plan} subscription was marked unpaid and its service paused",
    "cancel": lambda s, who, note: _by(who, f"canceled the {s.plan} subscription", f"The {s.plan} subscription was canceled"),
}


def register() -> None:
    state_sentences_register(Invoice, INVOICE)
    state_sentences_register(Transaction, TRANSACTION)
    state_sentences_register(Subscription, SUBSCRIPTION)
