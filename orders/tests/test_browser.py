import re
from datetime import datetime

import pytest

from marketplace.tests.browsing import sign_in
from orders.models import Order

from .factories import OrderFactory


def _link(email, label):
    """The URL printed under `label` in the plain-text body of an email."""
    match = re.search(re.escape(label) + r":\s*\n(\S+)", email.body)
    assert match, email.body
    return match.group(1)


def _sign_in(browser, live_server, email, password):
    page = browser.new_context().new_page()
    sign_in(page, live_server.url, email, password)
    return page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_two_rounds_of_confirmation_end_in_a_completed_order(
    live_server, browser, demo_people, mailoutbox, settings
):
    settings.SITE_URL = live_server.url
    seller, buyer = demo_people.sellers[0], demo_people.buyers[0]
    order = OrderFactory(seller=seller, buyer=buyer, shipped=True)

    seller_page = _sign_in(browser, live_server, seller.email, "demo-seller-2026")
    seller_page.goto(f"{live_server.url}/seller/orders/{order.pk}/")
    seller_page.get_by_role("button", name="Mark as Delivered").click()
    seller_page.get_by_text("The buyer has been asked to confirm.").wait_for()

    [first] = [m for m in mailoutbox if m.to == [buyer.email]]
    buyer_page = browser.new_context().new_page()  # the buyer, not signed in, from their mailbox
    buyer_page.goto(_link(first, "I have NOT received the item"))
    buyer_page.get_by_label("Message to the seller (optional)").fill("The parcel box was empty.")
    buyer_page.get_by_role("button", name="I have NOT received the item").click()
    buyer_page.get_by_text("We have told").wait_for()

    seller_page.reload()
    assert seller_page.get_by_text("The parcel box was empty.").is_visible()
    seller_page.get_by_role("button", name="Mark as Resolved & Confirm Delivery").click()
    seller_page.get_by_text("The buyer has been asked to confirm again").wait_for()

    second = [m for m in mailoutbox if m.to == [buyer.email]][-1]
    assert second is not first
    buyer_page.goto(_link(second, "I have received the item"))
    buyer_page.get_by_role("button", name="Yes, I have received the item").click()
    buyer_page.get_by_text("the order is completed").wait_for()

    seller_page.reload()
    assert seller_page.get_by_test_id("order-status").inner_text() == "Completed"
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    shown = seller_page.get_by_test_id("completed-at").locator("time").get_attribute("datetime")
    assert datetime.fromisoformat(shown) == order.completed_at
    assert seller_page.get_by_test_id("completed-at").inner_text() == f"{order.completed_at:%-d %b %Y, %H:%M}"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_buyer_who_reported_the_parcel_missing_confirms_it_from_the_same_email(
    live_server, browser, demo_people, mailoutbox, settings
):
    settings.SITE_URL = live_server.url
    seller, buyer = demo_people.sellers[0], demo_people.buyers[0]
    order = OrderFactory(seller=seller, buyer=buyer, shipped=True)
    seller_page = _sign_in(browser, live_server, seller.email, "demo-seller-2026")
    seller_page.goto(f"{live_server.url}/seller/orders/{order.pk}/")
    seller_page.get_by_role("button", name="Mark as Delivered").click()
    seller_page.get_by_text("The buyer has been asked to confirm.").wait_for()
    assert "Next: the buyer confirms" in seller_page.get_by_test_id("next-step").inner_text()

    [email] = [m for m in mailoutbox if m.to == [buyer.email]]
    buyer_page = browser.new_context().new_page()
    buyer_page.goto(_link(email, "I have NOT received the item"))
    buyer_page.get_by_role("button", name="I have NOT received the item").click()
    buyer_page.get_by_text("We have told").wait_for()
    seller_page.reload()
    assert "Next: you sort it out" in seller_page.get_by_test_id("next-step").inner_text()

    # The parcel turns up: the "received" link of the same email still works.
    buyer_page.goto(_link(email, "I have received the item"))
    assert buyer_page.get_by_text("If it has arrived after all, confirm it here").is_visible()
    buyer_page.get_by_role("button", name="Yes, I have received the item").click()
    buyer_page.get_by_text("the order is completed").wait_for()

    seller_page.reload()
    assert seller_page.get_by_test_id("order-status").inner_text() == "Completed"
    assert seller_page.get_by_test_id("next-step").count() == 0  # nothing waits any more
    assert any(m.to == [seller.email] and "completed" in m.subject.lower() for m in mailoutbox)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_signed_in_buyer_confirms_from_the_order_page_while_the_seller_looks_into_it(
    live_server, browser, demo_people
):
    seller, buyer = demo_people.sellers[0], demo_people.buyers[0]
    order = OrderFactory(seller=seller, buyer=buyer, awaiting_seller=True)
    page = _sign_in(browser, live_server, buyer.email, "demo-buyer-2026")
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    next_step = page.get_by_test_id("next-step").inner_text()
    assert "Next: the seller looks into it" in next_step and "confirm it below" in next_step

    page.get_by_role("button", name="Yes, I have received it").click()
    page.get_by_text("Thank you: the order is completed.").wait_for()
    assert page.get_by_test_id("order-status").inner_text() == "Completed"
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED and order.completed_at is not None
