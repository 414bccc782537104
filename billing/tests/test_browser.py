"""The card page in a real browser, with localstripe's Stripe.js: a customer follows the
link in their email and either confirms a payment with their bank or pays with a new card."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.links import card_update_token
from billing.models import Invoice, Receipt

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
    page.get_by_text("Paid. Thank you.").wait_for()
    assert Invoice.objects.get(pk=invoice.pk).status == "settled"


def test_a_confirmed_payment_settles_the_invoice(live_server, browser, billing, mailoutbox, settings):
    settings.SITE_URL = live_server.url
    invoice = billing.invoice(billing.customer(card="4000002500003155"))
    page = browser.new_context().new_page()
    page.goto(_link(mailoutbox[-1], "Confirm the payment"))

    page.get_by_role("button", name="Confirm the payment of $10.00").click()
    page.get_by_role("button", name="Complete authentication").click()
    page.get_by_text("Your bank confirmed the payment. Thank you.").wait_for()
    assert "Paid. Thank you." in page.content()
    assert Invoice.objects.get(pk=invoice.pk).status == "settled"


def _fill_card(page, number):
    page.get_by_placeholder("number").fill(number)
    page.get_by_placeholder("exp_month").fill("12")
    page.get_by_placeholder("exp_year").fill("34")
    page.get_by_placeholder("cvc").fill("123")
    page.get_by_placeholder("postal_code").fill("10001")


def test_a_declined_card_is_told_in_the_customers_words_with_the_next_try(
    live_server, browser, billing, settings
):
    settings.SITE_URL = live_server.url
    invoice = billing.invoice(billing.customer(), amount=2900)
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}/billing/card/{card_update_token(invoice)}/")
    # Who charges, what for, and the lines, before anything is typed.
    assert page.get_by_text(f"Invoice #{invoice.pk} from Marketplace").is_visible()
    assert page.get_by_role("cell", name="Thing").is_visible()

    _fill_card(page, "4000000000009995")  # saves fine, then the bank says: insufficient funds
    page.get_by_role("button", name="Save card and pay $29.00").click()

    status = page.get_by_test_id("payment-status")
    status.get_by_text("Your card was declined.").wait_for()
    retry_on = billing.charges(invoice)[-1].next_attempt_at
    assert "Your card has insufficient funds." in status.inner_text()
    assert f"We will try again on {retry_on:%-d %b %Y}" in status.inner_text()
    assert "Paid" not in status.inner_text()
    page.reload()  # and it still says so later, with the date
    assert (
        f"We will try again on {retry_on:%-d %b %Y}" in page.get_by_test_id("payment-status").inner_text()
    )
    assert page.get_by_role("button", name="Save card and pay $29.00").is_visible()  # use another card


def test_a_new_card_declined_is_told_first_then_the_next_try(live_server, browser, billing, settings):
    """The card on file was declined and a retry is scheduled; the customer enters another
    card and it is declined too: the page says first that the card they just entered was
    declined and why, and only then when it is tried again."""
    settings.SITE_URL = live_server.url
    invoice = billing.invoice(billing.customer(card="4000000000000002"), amount=2900)  # declined, retry due
    assert billing.charges(invoice)[-1].status == "retrying"
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}/billing/card/{card_update_token(invoice)}/")

    _fill_card(page, "4000000000009995")  # saves fine, then the bank says: insufficient funds
    page.get_by_role("button", name="Save card and pay $29.00").click()

    status = page.get_by_test_id("payment-status")
    status.get_by_text("The card you entered, Visa •••• 9995, was declined.").wait_for()
    text = status.inner_text()
    assert text.startswith("The card you entered, Visa •••• 9995, was declined. Your card has insufficient funds.")
    assert text.index("insufficient funds") < text.index("try")
    assert "Nothing was charged." in text
    retry = billing.charges(invoice)[-1]
    assert retry.payment_method.last4 == "9995"
    assert f"We will try it again on {retry.next_attempt_at:%-d %b %Y}" in text
    page.reload()
    assert page.get_by_test_id("payment-status").inner_text() == text


def test_a_new_card_the_bank_refuses_to_save_is_told_above_the_earlier_decline(
    live_server, browser, billing, settings
):
    settings.SITE_URL = live_server.url
    invoice = billing.invoice(billing.customer(card="4000000000000002"), amount=2900)  # declined, retry due
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}/billing/card/{card_update_token(invoice)}/")

    _fill_card(page, "4242424242424241")  # refused when the card is set up: nothing saved
    page.get_by_role("button", name="Save card and pay $29.00").click()

    refused = page.get_by_test_id("new-card-declined")
    refused.wait_for()
    assert refused.inner_text().startswith("The card you entered was declined.")
    assert "Nothing was charged." in refused.inner_text()
    first = page.locator("[data-testid=new-card-declined], [data-testid=payment-status]").first
    assert first.get_attribute("data-testid") == "new-card-declined"  # above "We will try again on ..."
    assert "We will try again on" in page.get_by_test_id("payment-status").inner_text()
    assert len(billing.charges(invoice)) == 1


def test_the_page_waits_for_the_bank_then_shows_the_payment_and_its_receipt(
    live_server, browser, billing, settings
):
    settings.SITE_URL = live_server.url
    customer = billing.customer(card="4242424242424242")
    billing.server.fail_next(20)  # Stripe does not answer: the charge waits
    invoice = billing.invoice(customer, amount=4500)
    billing.server.fail_next(0)
    assert billing.fresh(invoice).status == "processing"
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}/billing/card/{card_update_token(invoice)}/")
    status = page.get_by_test_id("payment-status")
    assert "We are charging $45.00 to your card." in status.inner_text()

    billing.run(now=timezone.now() + timedelta(minutes=5))  # the worker gets its answer

    status.get_by_text("Paid. Thank you.").wait_for()  # the page asked again and reloaded
    receipt = Receipt.objects.get(invoice=invoice)
    page.get_by_role("link", name=f"See and print your receipt {receipt.display_number}").click()
    page.get_by_role("heading", name=f"Payment receipt {receipt.display_number}").wait_for()
    assert page.get_by_test_id("receipt-amount").inner_text() == "$45.00"
    assert "Visa •••• 4242" in page.content()
    assert page.get_by_role("button", name="Print").is_visible()
