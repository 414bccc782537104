"""
The payout settings' own limit on wrong passwords. Changing where a seller's money goes
asks for their password again (payouts.payout_accounts): whoever holds a stolen session
could otherwise guess it there. After PAYOUT_PASSWORD_FAILURE_LIMIT wrong ones within
PAYOUT_PASSWORD_PAUSE_MINUTES, the form refuses every password (the right one too) until
the oldest of them is that old. It is apart from the sign-in's limit (django-axes): a
wrong password here neither locks the seller out of signing in nor goes through
authenticate(), whose failure records would keep the form's other fields (the bank
numbers). Counted in the database, so every web process shares it.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from marketplace.exceptions import ApplicationError

from .models import PayoutPasswordFailure

PASSWORD_PAUSED = (
    "Too many wrong passwords: after {limit} of them, changing where your money goes is paused "
    "for {minutes} minutes. Nothing was changed. Try again later with your current password; "
    "signing in is not affected. If you did not type these, change your password now."
)


class PasswordPaused(ApplicationError):
    """The payout settings refuse passwords for a while (too many wrong ones)."""


def _window():
    return timedelta(minutes=settings.PAYOUT_PASSWORD_PAUSE_MINUTES)


def _paused_message() -> str:
    return PASSWORD_PAUSED.format(
        limit=settings.PAYOUT_PASSWORD_FAILURE_LIMIT, minutes=settings.PAYOUT_PASSWORD_PAUSE_MINUTES
    )


def _recent_failures(seller) -> int:
    return PayoutPasswordFailure.objects.filter(
        seller=seller, failed_at__gt=timezone.now() - _window()
    ).count()


def payout_password_check(*, seller, password: str) -> bool:
    """Whether `password` is the seller's, counting a wrong one towards the limit; raises
    PasswordPaused while the form is paused, and when this wrong password starts it.
    Call it outside any transaction that may roll back, so the record stays."""
    limit = settings.PAYOUT_PASSWORD_FAILURE_LIMIT
    if not password:
        if _recent_failures(seller) >= limit:
            raise PasswordPaused(_paused_message())
        return False  # nothing typed: not a guess
    # The guess is recorded before it is counted and checked: of guesses sent at once, each
    # counts every one recorded before it, so only the first `limit` are ever checked (a
    # count taken first would let them all through together).
    guess = PayoutPasswordFailure.objects.create(seller=seller)
    if _recent_failures(seller) > limit:
        guess.delete()  # refused unchecked: it does not make the pause longer
        raise PasswordPaused(_paused_message())
    if seller.check_password(password):
        PayoutPasswordFailure.objects.filter(seller=seller).delete()
        return True
    if _recent_failures(seller) >= limit:
        raise PasswordPaused(_paused_message())
    return False
