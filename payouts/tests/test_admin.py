"""Admin → Finance Settings → Payout Cycle Settings, and the payouts admins send."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from finance.models import PayoutCycleSettings, PayoutSettingsChange
from payouts.models import Payout

from .conftest import utc
from .factories import PayoutAccountFactory

pytestmark = pytest.mark.django_db

URL = "/admin/finance/payoutcyclesettings/1/change/"


def form_data(**overrides):
    data = {
        "delay_days": "7",
        "schedule": "monthly",
        "month_days": "1, 15",
        "timezone": "UTC",
        "holiday_country": "",
        "minimum_payout_amount": "0",
        "platform_fee_bps": "1000",
        "provider": "manual",
        "cooling_off_days": "3",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_finance_settings_holds_payout_cycle_settings_on_the_admin_index(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert "Finance Settings" in page and "Payout Cycle Settings" in page
    assert admin_client.get("/admin/finance/payoutcyclesettings/").url == URL


def test_the_change_form_previews_the_next_payout_dates(admin_client):
    PayoutCycleSettings.load()
    page = admin_client.get(URL).content.decode()
    assert "An order completed now" in page and "Next six payout dates" in page


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"delay_days": "-1"}, "delay_days", "greater than or equal to 0"),
        ({"delay_days": "366"}, "delay_days", "less than or equal to 365"),
        ({"month_days": "1, 32"}, "month_days", "“32” is not a day of the month"),
        ({"schedule": "weekly"}, "weekdays", "Choose at least one weekday"),
        ({"timezone": "Mars/Olympus"}, "timezone", "is not a timezone"),
        ({"roll_to_business_day": "on", "holiday_country": "XX"}, "holiday_country", "is not a country"),
        ({"platform_fee_bps": "10001"}, "platform_fee_bps", "less than or equal to 10000"),
    ],
)
def test_invalid_values_get_a_clear_message_and_change_nothing(admin_client, overrides, field, message):
    PayoutCycleSettings.load()
    response = admin_client.post(URL, form_data(**overrides))
    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors[field])
    assert PayoutCycleSettings.load().snapshot() == PayoutCycleSettings().snapshot()
    assert not PayoutSettingsChange.objects.exists()


def test_a_saved_change_is_logged_with_who_when_before_and_after(admin_client, admin_user):
    PayoutCycleSettings.load()
    response = admin_client.post(URL, form_data(delay_days="10", schedule="weekly", weekdays=["0", "3"]))
    assert response.status_code == 302
    config = PayoutCycleSettings.load()
    assert (config.delay_days, config.weekdays) == (10, "0,3")
    change = PayoutSettingsChange.objects.get()
    assert change.changed_by == admin_user
    assert ("delay_days", 7, 10) in change.changes() and ("schedule", "monthly", "weekly") in change.changes()
    page = admin_client.get(URL).content.decode()
    assert "Delay N (days): 7 → 10" in page
    assert "Schedule: Monthly" in page and "Weekdays: none → Monday, Thursday" in page


@pytest.mark.parametrize(
    "entry, message",
    [
        ("XXX 10", "“XXX 10”: “XXX” is not an ISO 4217 currency code"),
        ("EUR -5", "“EUR -5”: a minimum cannot be negative."),
        ("EUR 1.234", "“EUR 1.234”: EUR has 2 decimal places; 1.234 has more."),
        ("JPY 10.5", "“JPY 10.5”: JPY has no minor unit, so the amount must be whole."),
        ("EUR 1e3", "“EUR 1e3”: “1e3” is not an amount"),
        ("EUR", "“EUR”: write a currency code and an amount"),
        ("EUR 5, eur 6", "“eur 6”: EUR is given twice."),
    ],
)
def test_a_bad_minimum_per_currency_is_named_and_nothing_is_saved(admin_client, entry, message):
    PayoutCycleSettings.load()
    data = form_data(minimum_payout_amount="2500", minimum_payout_by_currency=f"GBP 20.00, {entry}")
    response = admin_client.post(URL, data)
    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors["minimum_payout_by_currency"])
    assert PayoutCycleSettings.load().snapshot() == PayoutCycleSettings().snapshot()
    assert not PayoutSettingsChange.objects.exists()


def test_minimums_per_currency_are_parsed_exactly_and_logged_readably(admin_client):
    PayoutCycleSettings.load()
    data = form_data(minimum_payout_amount="2500", minimum_payout_by_currency="eur 25, JPY 3000; GBP 20.10")
    assert admin_client.post(URL, data).status_code == 302
    config = PayoutCycleSettings.load()
    assert config.minimum_payout_by_currency == {"EUR": 2_500, "GBP": 2_010, "JPY": 3_000}
    assert [config.minimum_payout_for(c) for c in ("JPY", "EUR", "USD")] == [3_000, 2_500, 2_500]
    data["minimum_payout_by_currency"] = "EUR 25.00, GBP 20.10, JPY 2000"
    assert admin_client.post(URL, data).status_code == 302
    assert PayoutCycleSettings.load().minimum_payout_by_currency["JPY"] == 2_000

    page = admin_client.get(URL).content.decode()
    assert 'value="EUR 25.00, GBP 20.10, JPY 3000"' not in page
    assert 'value="EUR 25.00, GBP 20.10, JPY 2000"' in page  # the form shows what is stored
    assert "Minimum payout, any other currency: 0 minor units → 2,500 minor units" in page
    assert "Minimum payout per currency: none → EUR 25.00, GBP 20.10, JPY 3000" in page
    assert (
        "Minimum payout per currency: EUR 25.00, GBP 20.10, JPY 3000 → EUR 25.00, GBP 20.10, JPY 2000" in page
    )
    log = admin_client.get("/admin/finance/payoutsettingschange/").content.decode()
    assert "JPY 3000 → EUR 25.00, GBP 20.10, JPY 2000" in log


def test_the_live_preview_answers_for_unsaved_values_without_saving_them(admin_client):
    PayoutCycleSettings.load()
    url = reverse("admin:finance_payoutcyclesettings_preview")
    answer = admin_client.post(url, form_data(schedule="daily", delay_days="0")).json()
    assert answer["available_on"] == answer["payout_on"]
    assert len(answer["next_dates"]) == 6
    errors = admin_client.post(url, form_data(month_days="0")).json()["errors"]
    assert any("“0” is not a day of the month" in e for e in errors)
    assert PayoutCycleSettings.load().schedule == "monthly"


def test_admin_marks_a_payout_failed_with_a_reason_from_the_list(admin_client, payouts):
    payouts.complete(at=utc(2027, 1, 5, 10))
    payouts.run(date(2027, 1, 15))
    payout = Payout.objects.get()
    changelist = "/admin/payouts/payout/"
    data = {"action": "mark_failed", "_selected_action": [payout.pk]}
    assert "Reason" in admin_client.post(changelist, data).content.decode()
    admin_client.post(changelist, {**data, "apply": "1", "reason": "Account closed"})
    payout = Payout.objects.get()
    assert (payout.status, payout.failure_reason) == ("failed", "Account closed")


def test_admin_exports_scheduled_payouts_as_csv(admin_client, payouts):
    payouts.complete(at=utc(2027, 1, 5, 10))
    payouts.run(date(2027, 1, 15))
    payout = Payout.objects.get()
    response = admin_client.post(
        "/admin/payouts/payout/", {"action": "export_csv", "_selected_action": [payout.pk]}
    )
    assert response["Content-Type"] == "text/csv"
    assert b",90.00,USD,Marketplace payout" in response.content
    assert Payout.objects.get().status == "processing"
    # The answer is the file; the list page the browser shows next says what was done.
    page = admin_client.get("/admin/payouts/payout/").content.decode()
    assert "Exported 1 payout for the bank; they are marked sent to the bank." in page


def test_marking_several_payouts_checks_every_one_first_and_changes_none_when_one_is_refused(
    admin_client, payouts
):
    payouts.complete(at=utc(2027, 1, 5, 10))
    payouts.complete(at=utc(2027, 1, 5, 11))
    payouts.run(date(2027, 1, 15))
    scheduled, paid = Payout.objects.order_by("pk")
    admin_client.post(
        "/admin/payouts/payout/", {"action": "mark_paid", "_selected_action": [paid.pk], "apply": "1"}
    )
    assert Payout.objects.get(pk=paid.pk).status == "paid"

    response = admin_client.post(
        "/admin/payouts/payout/",
        {"action": "cancel", "_selected_action": [scheduled.pk, paid.pk], "apply": "1", "reason": "Hold"},
        follow=True,
    )

    html = response.content.decode()
    assert f"Payout #{paid.pk}: Payout #{paid.pk} is paid: it cannot be canceled." in html
    assert "Nothing was changed" in html
    assert Payout.objects.get(pk=scheduled.pk).status == "scheduled"


def test_exporting_several_payouts_checks_every_one_first_and_exports_none_when_one_is_refused(
    admin_client, payouts
):
    payouts.complete(at=utc(2027, 1, 5, 10))
    payouts.complete(at=utc(2027, 1, 5, 11))
    payouts.run(date(2027, 1, 15))
    scheduled, paid = Payout.objects.order_by("pk")
    admin_client.post(
        "/admin/payouts/payout/", {"action": "mark_paid", "_selected_action": [paid.pk], "apply": "1"}
    )

    response = admin_client.post(
        "/admin/payouts/payout/",
        {"action": "export_csv", "_selected_action": [scheduled.pk, paid.pk]},
        follow=True,
    )

    assert response["Content-Type"].startswith("text/html")  # no bank file
    html = response.content.decode()
    assert f"Payout #{paid.pk}: Payout #{paid.pk} is paid: it cannot be exported to the bank file." in html
    assert "Nothing was changed" in html
    assert Payout.objects.get(pk=scheduled.pk).status == "scheduled"  # not handed to the bank


def test_exporting_a_payout_already_in_a_bank_file_is_refused_unless_staff_ask_for_a_duplicate(
    admin_client, payouts
):
    payouts.complete(at=utc(2027, 1, 5, 10))
    payouts.run(date(2027, 1, 15))
    payout = Payout.objects.get()
    changelist = "/admin/payouts/payout/"
    admin_client.post(changelist, {"action": "export_csv", "_selected_action": [payout.pk]})

    refused = admin_client.post(
        changelist, {"action": "export_csv", "_selected_action": [payout.pk]}, follow=True
    )
    assert refused["Content-Type"].startswith("text/html")  # no second file
    html = refused.content.decode().replace("&#x27;", "'")
    assert f"Payout #{payout.pk} is already in a bank file" in html and "Nothing was changed" in html

    duplicate = admin_client.post(changelist, {"action": "export_csv_again", "_selected_action": [payout.pk]})
    assert duplicate["Content-Type"] == "text/csv" and b"DE89370400440532013000" in duplicate.content
    assert "-duplicate.csv" in duplicate["Content-Disposition"]
    page = admin_client.get(changelist).content.decode()
    assert "each to the account its first bank file named: make sure the bank pays each only once" in page
    assert Payout.objects.get().export_count == 2


def test_staff_who_may_only_view_payouts_can_neither_export_bank_details_nor_change_payouts(client, payouts):
    from django.contrib.auth.models import Permission

    from accounts.tests.factories import UserFactory

    payouts.complete(at=utc(2027, 1, 5, 10))
    payouts.run(date(2027, 1, 15))
    payout = Payout.objects.get()
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_payout"))
    client.force_login(viewer)
    changelist = "/admin/payouts/payout/"
    page = client.get(changelist).content.decode()
    assert str(payout.seller) in page
    for action in (
        "export_csv",
        "export_csv_again",
        "mark_paid",
        "mark_failed",
        "cancel",
        "check_with_stripe",
    ):
        assert f'value="{action}"' not in page
    for action, extra in (
        ("export_csv", {}),
        ("mark_paid", {"apply": "1"}),
        ("cancel", {"apply": "1", "reason": "x"}),
    ):
        response = client.post(changelist, {"action": action, "_selected_action": [payout.pk], **extra})
        assert not response["Content-Type"].startswith("text/csv")
        assert b"DE89370400440532013000" not in response.content
    assert Payout.objects.get().status == "scheduled"

    # Changing payouts is not enough to see every seller's bank details: that is its own right.
    viewer.user_permissions.add(Permission.objects.get(codename="change_payout"))
    viewer = type(viewer).objects.get(pk=viewer.pk)  # permissions are cached per user object
    client.force_login(viewer)
    page = client.get(changelist).content.decode()
    assert 'value="mark_paid"' in page and 'value="export_csv"' not in page
    viewer.user_permissions.add(Permission.objects.get(codename="export_bank_file"))
    response = client.post(changelist, {"action": "export_csv", "_selected_action": [payout.pk]})
    assert response["Content-Type"] == "text/csv" and b"DE89370400440532013000" in response.content


def test_the_payout_accounts_list_reads_the_same_few_queries_however_many_sellers_it_shows(admin_client):
    url = reverse("admin:payouts_payoutaccount_changelist")
    PayoutAccountFactory.create_batch(2)
    admin_client.get(url)  # the first request also reads what is then cached (the session)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    PayoutAccountFactory.create_batch(20, on_hold=True, hold_reason="Checking the seller's identity")
    with CaptureQueriesContext(connection) as many:
        page = admin_client.get(url)
    assert len(many.captured_queries) == len(few.captured_queries)
    text = page.content.decode()
    assert text.count("No: ") >= 20 and "Yes" in text
