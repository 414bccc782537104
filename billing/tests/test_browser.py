"""The card page in a real browser, with localstripe's Stripe.js: a customer follows the
link in their email and either confirms a payment with their bank or pays with a new card."""

import re

import pytest

from billing.models import Invoice

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _link(email, label):
    match = re.search(re.escape(label) + r": (\S+)", email.body)
    assert match, email.body
    return match.group(1)


def test_the_customer_confirms_the_payment_with_their_bank(
    live_server, browser, billing, mailoutbox, settings
):
    settings.SITE_URL = live_server.url
    invoice = billing.invoice(billing.customer(card="4000002500003155"))
    page = browser.new_context().new_page()
    page.goto(_link(mailoutbox[-1], "Confirm the payment"))

    page.get_by_role("button", name="Confirm the payment of $10.00").click()
    page.get_by_role("button", name="Fail authentication").click()  # the bank's check, failed first
    page.get_by_text("Nothing was charged.").wait_for()
    assert Invoice.objects.get(pk=invoice.pk).status == "process_failed"

    page.reload()  # the PaymentIntent asks for a card again after a failed check: offer a new card
    page.get_by_placeholder("number").fill("4242424242424242")
    page.get_by_placeholder("exp_month").fill("12")
    page.get_by_placeholder("exp_year").fill("34")
    page.get_by_placeholder("cvc").fill("123")
    page.get_by_placeholder("postal_code").fill("10001")
    page.get_by_role("button", name="Save card and pay $10.00").click()
    page.get_by_text("saved. We are charging it now.").wait_for()
    assert "This invoice is paid. Thank you." in page.content()
    assert Invoice.objects.get(pk=invoice.pk).status == "settled"


def test_a_confirmed_payment_settles_the_invoice(live_server, browser, billing, mailoutbox, settings):
    settings.SITE_URL = live_server.url
    invoice = billing.invoice(billing.customer(card="4000002500003155"))
    page = browser.new_context().new_page()
    page.goto(_link(mailoutbox[-1], "Confirm the payment"))

    page.get_by_role("button", name="Confirm the payment of $10.00").click()
    page.get_by_role("button", name="Complete authentication").click()
    page.get_by_text("Your bank confirmed the payment. Thank you.").wait_for()
    assert "This invoice is paid. Thank you." in page.content()
    assert Invoice.objects.get(pk=invoice.pk).status == "settled"
