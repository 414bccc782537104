"""Wrong passwords on the payout settings guessed at once, from several requests in
parallel (a stolen session firing them together), are held to the same limit as one at
a time: no more than PAYOUT_PASSWORD_FAILURE_LIMIT of them are ever checked."""

import threading
import time

import pytest

from accounts.models import User
from accounts.tests.factories import SellerFactory
from marketplace.tests.races import race
from payouts.models import PayoutPasswordFailure
from payouts.password_limit import PasswordPaused, payout_password_check

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_guesses_sent_at_once_are_checked_no_more_than_the_limit(settings, monkeypatch):
    seller = SellerFactory()
    checked, lock = [], threading.Lock()

    def slow_wrong(self, raw_password):
        with lock:
            checked.append(raw_password)
        time.sleep(0.3)  # a password hash takes a while: the window every racer is in
        return False

    monkeypatch.setattr(User, "check_password", slow_wrong)
    guesses = 8
    results = race(
        *[
            (lambda n=n: payout_password_check(seller=User.objects.get(pk=seller.pk), password=f"guess{n}"))
            for n in range(guesses)
        ]
    )
    limit = settings.PAYOUT_PASSWORD_FAILURE_LIMIT
    assert len(checked) <= limit, checked
    assert all(result is False or isinstance(result, PasswordPaused) for result in results), results
    assert PayoutPasswordFailure.objects.filter(seller=seller).count() == len(checked)
    # More guesses, one at a time: all told, exactly `limit` are checked, then the pause.
    for n in range(limit + 1):
        try:
            payout_password_check(seller=User.objects.get(pk=seller.pk), password=f"later{n}")
        except PasswordPaused:
            break
    assert len(checked) == limit, checked
    with pytest.raises(PasswordPaused):
        payout_password_check(seller=User.objects.get(pk=seller.pk), password="one more")
    assert len(checked) == limit
