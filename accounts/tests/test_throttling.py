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
