"""Admin → Finance Settings → Payout Cycle Settings, and the payouts admins send."""

from datetime import date

import pytest
from django.urls import reverse

from finance.models import PayoutCycleSettings, PayoutSettingsChange
from payouts.models import Payout

from .conftest import utc

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
    assert "delay_days: 7 → 10" in admin_client.get(URL).content.decode()


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
    assert b",USD,90.00" in response.content
    assert Payout.objects.get().status == "processing"
