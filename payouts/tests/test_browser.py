import pytest

from finance.models import PayoutCycleSettings, PayoutSettingsChange


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
