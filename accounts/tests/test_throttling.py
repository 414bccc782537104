"""Login throttling (django-axes) on the sign-in page and the admin's."""

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db

PAGES = {
    "sign-in page": (reverse("login"), "username"),
    "admin": (reverse("admin:login"), "username"),
}


def _try(client, page, email, password, ip="203.0.113.7"):
    url, field = PAGES[page]
    return client.post(url, {field: email, "password": password}, REMOTE_ADDR=ip)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("page", PAGES)
def test_after_five_wrong_passwords_even_the_right_one_is_refused_with_a_clear_message(
    client, demo_people, page
):
    email, password = ("admin@demo.test", "demo-admin-2026")
    for _ in range(4):
        assert _try(client, page, email, "guess").status_code == 200
    assert _try(client, page, email, "guess").status_code == 429  # the fifth locks

    response = _try(client, page, email, password)

    assert response.status_code == 429
    html = response.content.decode()
    assert "Too many sign-in attempts" in html
    assert (
        "After 5 wrong passwords for admin@demo.test, signing in from here is paused for 15 minutes." in html
    )
    assert not _signed_in(client)


def test_the_lockout_ends_after_its_wait_and_the_right_password_works_again(client, demo_people):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            _try(client, "sign-in page", "seller@demo.test", "guess")
        assert _try(client, "sign-in page", "seller@demo.test", "demo-seller-2026").status_code == 429
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        response = _try(client, "sign-in page", "seller@demo.test", "demo-seller-2026")
    assert response.status_code == 302 and _signed_in(client)


def test_the_same_email_in_another_case_counts_as_the_same_account(client, demo_people):
    for email in [
        "Seller@demo.test",
        "SELLER@DEMO.TEST",
        "seller@Demo.test",
        "seller@demo.TEST",
        "SeLLer@demo.test",
    ]:
        _try(client, "sign-in page", email, "guess")
    assert _try(client, "sign-in page", "seller@demo.test", "demo-seller-2026").status_code == 429


def test_a_stranger_guessing_elsewhere_does_not_lock_the_seller_out(client, demo_people):
    for _ in range(10):
        _try(client, "sign-in page", "seller@demo.test", "guess", ip="198.51.100.9")
    response = _try(client, "sign-in page", "seller@demo.test", "demo-seller-2026", ip="203.0.113.7")
    assert response.status_code == 302 and _signed_in(client)


def test_staff_see_the_lockouts_in_the_admin_and_a_command_lifts_one(client, demo_people):
    for _ in range(5):
        _try(client, "sign-in page", "buyer@demo.test", "guess")
    assert _try(client, "sign-in page", "buyer@demo.test", "demo-buyer-2026").status_code == 429

    staff = client.__class__()
    staff.force_login(demo_people.admin)
    listing = staff.get("/admin/axes/accessattempt/?locked_out=yes").content.decode()
    assert "buyer@demo.test" in listing and "Locked Out" in listing

    out = io.StringIO()
    call_command("axes_reset_username", "buyer@demo.test", stdout=out)
    assert "1 attempts removed." in out.getvalue()

    response = _try(client, "sign-in page", "buyer@demo.test", "demo-buyer-2026")
    assert response.status_code == 302 and _signed_in(client)


def test_behind_a_trusted_proxy_the_address_the_proxy_saw_is_counted(client, demo_people, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(5):
        # The client writes what it likes on the left; the proxy appends the real address.
        client.post(
            reverse("login"),
            {"username": "seller@demo.test", "password": "guess"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.7",
        )
    response = client.post(
        reverse("login"),
        {"username": "seller@demo.test", "password": "demo-seller-2026"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.7",
    )
    assert response.status_code == 429


def test_one_address_trying_a_few_passwords_on_many_accounts_is_paused_for_every_account(client, demo_people):
    # Password spraying: four guesses at each of eight accounts stays under the limit for
    # any one account, but not under the limit for the address.
    answers = [
        _try(client, "sign-in page", f"someone{n}@demo.test", "Summer2026!", ip="198.51.100.9").status_code
        for n in range(8)
        for _ in range(4)
    ]
    assert answers == [200] * 29 + [429] * 3  # the thirtieth failure pauses the address

    response = _try(client, "sign-in page", "seller@demo.test", "demo-seller-2026", ip="198.51.100.9")

    assert response.status_code == 429
    assert (
        "After 30 wrong passwords from your address, for any accounts, signing in from here is paused "
        "for 15 minutes." in response.content.decode()
    )
    assert not _signed_in(client)
    elsewhere = _try(client, "sign-in page", "seller@demo.test", "demo-seller-2026", ip="203.0.113.7")
    assert elsewhere.status_code == 302 and _signed_in(client)

    client.logout()
    call_command("axes_reset_ip", "198.51.100.9", stdout=io.StringIO())  # staff lift it
    lifted = _try(client, "sign-in page", "seller@demo.test", "demo-seller-2026", ip="198.51.100.9")
    assert lifted.status_code == 302 and _signed_in(client)


def test_many_addresses_guessing_one_account_pause_it_except_where_its_owner_signed_in_before(
    client, demo_people
):
    email, password = "seller@demo.test", "demo-seller-2026"
    assert _try(client, "sign-in page", email, password, ip="203.0.113.7").status_code == 302  # their office
    client.logout()
    # A botnet: a few guesses from each of many addresses, never the per-address limit.
    for n in range(10):
        for _ in range(2):
            _try(client, "sign-in page", email, "guess", ip=f"192.0.2.{n + 1}")

    from_a_new_address = _try(client, "sign-in page", email, password, ip="198.51.100.50")

    assert from_a_new_address.status_code == 429
    assert (
        f"After 20 wrong passwords for {email} from many addresses, signing in to it is paused for "
        "15 minutes, except from an address it has signed in from before."
        in from_a_new_address.content.decode()
    )
    assert not _signed_in(client)
    # The stranger cannot lock the seller out: from where they signed in before, they still can.
    from_the_office = _try(client, "sign-in page", email, password, ip="203.0.113.7")
    assert from_the_office.status_code == 302 and _signed_in(client)


def test_the_admin_sign_in_pauses_a_sprayed_address_too(client, demo_people):
    for n in range(30):
        _try(client, "admin", f"staff{n}@demo.test", "guess", ip="198.51.100.9")
    response = _try(client, "admin", "admin@demo.test", "demo-admin-2026", ip="198.51.100.9")
    assert response.status_code == 429 and "from your address, for any accounts" in response.content.decode()
