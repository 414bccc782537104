import pytest

from finance.models import PayoutCycleSettings, PayoutSettingsChange
from marketplace.tests.browsing import sign_in


def _settings_page(browser, live_server):
    """The Payout Cycle Settings page, as the demo admin."""
    PayoutCycleSettings.load()
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Email address").fill("admin@demo.test")
    page.get_by_label("Password").fill("demo-admin-2026")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/admin/finance/payoutcyclesettings/")
    return page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_settings_preview_follows_the_form_as_the_admin_edits_it(live_server, browser, demo_people):
    page = _settings_page(browser, live_server)
    preview = page.locator("#payout-preview")
    before = preview.locator(".dates").inner_text()

    page.locator("#id_schedule").select_option("daily")
    page.locator("#id_delay_days").fill("0")
    page.wait_for_function(
        "before => document.querySelector('#payout-preview .dates').innerText !== before", arg=before
    )
    dates = preview.locator(".dates li").all_inner_texts()
    assert len(dates) == 6 and dates[0] != dates[1]
    sentence = preview.locator(".sentence").inner_text()
    available, paid = sentence.split("becomes available on ")[1].split(" and is paid on ")
    assert available == paid.rstrip(".")  # daily, N = 0: paid the day it completes

    page.locator("#id_month_days").fill("32")  # still previewed, still refused
    page.locator("#id_schedule").select_option("monthly")
    page.get_by_text("“32” is not a day of the month").wait_for()
    assert PayoutCycleSettings.load().schedule == "monthly" and not PayoutSettingsChange.objects.exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_preview_errors_name_their_field_and_no_stale_dates_stay_beside_them(
    live_server, browser, demo_people
):
    page = _settings_page(browser, live_server)
    preview = page.locator("#payout-preview")
    assert preview.locator(".dates li").count() == 6

    page.locator("#id_schedule").select_option("weekly")  # and no weekday ticked
    error = preview.locator(".errorlist li")
    error.first.wait_for()
    assert error.all_inner_texts() == ["Weekdays: Choose at least one weekday."]
    assert not preview.locator(".dates").is_visible()  # no dates from the old values

    page.get_by_label("Friday").check()
    page.wait_for_function("() => !document.querySelector('#payout-preview .errorlist li')")
    dates = preview.locator(".dates li").all_inner_texts()
    assert len(dates) == 6 and all(d.startswith("Fri ") for d in dates)


def _sign_in(page, live_server, email):
    sign_in(page, live_server.url, email, "demo-seller-2026")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_seller_onboards_with_stripe_through_its_page_and_comes_back_set_up_to_get_paid(
    live_server, page, demo_people, stripe_server, settings
):
    settings.SITE_URL = live_server.url  # where Stripe sends the seller back
    config = PayoutCycleSettings.load()
    config.provider = "either"
    config.save()
    seller = demo_people.sellers[2]
    _sign_in(page, live_server, seller.email)
    page.goto(f"{live_server.url}/seller/payouts/")
    page.get_by_role("heading", name="Set up how you get paid").wait_for()
    page.get_by_role("link", name="Set up payouts").click()
    page.get_by_role("button", name="Set up payouts with Stripe").click()

    # Stripe's hosted onboarding (the local Stripe server's page, another origin).
    page.get_by_role("heading", name=f"Set up payouts for {seller.email}").wait_for()
    assert page.url.startswith(stripe_server.url + "/connect/onboarding/")
    page.get_by_role("button", name="Submit all details").click()

    page.get_by_role("heading", name="You're set up to get paid").wait_for()
    assert page.url == f"{live_server.url}/seller/payouts/account/"
    assert "your Stripe account (acct_" in page.locator("#payout-status").inner_text()
    page.goto(f"{live_server.url}/seller/payouts/")
    assert page.get_by_role("heading", name="Set up how you get paid").count() == 0


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_seller_who_leaves_a_requirement_due_sees_it_and_can_continue_with_stripe(
    live_server, page, demo_people, stripe_server, settings
):
    settings.SITE_URL = live_server.url  # where Stripe sends the seller back
    config = PayoutCycleSettings.load()
    config.provider = "stripe_connect"
    config.save()
    seller = demo_people.sellers[3]
    _sign_in(page, live_server, seller.email)
    page.goto(f"{live_server.url}/seller/payouts/account/")
    page.get_by_role("button", name="Set up payouts with Stripe").click()
    page.get_by_role("button", name="Submit, but leave the ID document for later").click()

    status = page.locator("#payout-status")
    page.get_by_role("heading", name="Stripe needs something more before it can pay you").wait_for()
    assert "a photo of your ID document" in status.inner_text()
    status.get_by_role("link", name="Continue with Stripe").click()
    page.get_by_role("heading", name=f"Set up payouts for {seller.email}").wait_for()
    assert "individual.verification.document" in page.content()
    page.get_by_role("button", name="Submit all details").click()
    page.get_by_role("heading", name="You're set up to get paid").wait_for()
