import re
from datetime import datetime

import pytest

from orders.models import Order

from .factories import OrderFactory


def _link(email, label):
    """The URL printed under `label` in the plain-text body of an email."""
    match = re.search(re.escape(label) + r":\s*\n(\S+)", email.body)
    assert match, email.body
    return match.group(1)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_two_rounds_of_confirmation_end_in_a_completed_order(
    live_server, browser, demo_people, mailoutbox, settings
):
    settings.SITE_URL = live_server.url
    seller, buyer = demo_people.sellers[0], demo_people.buyers[0]
    order = OrderFactory(seller=seller, buyer=buyer, shipped=True)

    seller_page = browser.new_context().new_page()
    seller_page.goto(f"{live_server.url}/accounts/login/")
    seller_page.get_by_label("Email").fill(seller.email)
    seller_page.get_by_label("Password").fill("demo-seller-2026")
    seller_page.get_by_role("button", name="Sign in").click()
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
    seller_page.get_by_text("asked to confirm again").wait_for()

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
    assert (
        seller_page.get_by_test_id("completed-at").inner_text()
        == f"{order.completed_at:%b %-d, %Y, %H:%M} UTC"
    )
