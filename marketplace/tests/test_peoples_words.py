"""Staff and sellers read people's words, not the database's: on every admin change page
of the demo's money and orders, and on every order timeline, no amount shows as a bare
integer of minor units ("12900") and no status or transition shows by its stored name
("pending_seller_action", "report_not_received")."""

import re
from io import StringIO

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse
from django_fsm import FSMField
from django_fsm_log.models import StateLog

from orders.models import Order

# The change pages to read: every model whose rows hold money or a status.
MODELS = [
    "orders.Order",
    "billing.Invoice",
    "billing.Transaction",
    "billing.Subscription",
    "billing.Dispute",
    "billing.Plan",
    "payouts.Payout",
    "payouts.Earning",
    "payouts.Journal",
    "payouts.LedgerAccount",
    "finance.PayoutSettingsChange",
]
PER_MODEL = 25
MONEY_FIELD = re.compile(r"amount|balance|total|money|price|fee")


@pytest.fixture
def demo(db, stripe_server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())


def _machine_names() -> set[str]:
    """Stored status values and transition names that are not words (they have an
    underscore): what must never reach a person."""
    names = set(StateLog.objects.values_list("transition", flat=True))
    for model in apps.get_models():
        for field in model._meta.fields:
            if isinstance(field, FSMField):
                names.update(str(value) for value, _ in field.choices)
    return {name for name in names if "_" in name}


def _visible(html: str) -> str:
    """The page as people see it: no scripts, no form values, no attributes."""
    html = re.sub(r"(?s)<(script|style|select|template)\b.*?</\1>", " ", html)
    html = re.sub(r"(?s)<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", html)


def _bare_money_cells(html: str) -> list[str]:
    """Read-only cells of money fields whose whole content is an integer."""
    found = []
    for name, body in re.findall(
        r'(?s)<(?:div|td) class="[^"]*field-([a-z_]+)[^"]*">(.*?)</(?:div|td)>', html
    ):
        if MONEY_FIELD.search(name):
            text = _visible(body).strip()
            if re.fullmatch(r"-?\d[\d,]*", text):
                found.append(f"{name}: {text}")
    for value in re.findall(r'<div class="readonly">\s*(-?\d+)\s*</div>', html):
        if abs(int(value)) >= 100:
            found.append(f"readonly: {value}")
    return found


def test_no_admin_change_page_shows_a_bare_amount_or_a_stored_status_name(demo, admin_client):
    names = _machine_names()
    assert {"pending_seller_action", "report_not_received", "process_failed"} <= names
    pages = 0
    for label in MODELS:
        model = apps.get_model(label)
        assert model in admin.site._registry, label
        for pk in model.objects.order_by("pk").values_list("pk", flat=True)[:PER_MODEL]:
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])
            response = admin_client.get(url)
            assert response.status_code == 200, url
            html = response.content.decode()
            main = html[html.index('id="content-main"') :]
            text = _visible(main)
            shown = sorted(name for name in names if re.search(rf"\b{re.escape(name)}\b", text))
            assert shown == [], f"{url} shows {shown}"
            assert _bare_money_cells(main) == [], url
            pages += 1
    assert pages > 40  # the demo has rows of every kind


def test_no_order_timeline_shows_a_stored_status_name(demo, client):
    names = _machine_names()
    orders = list(Order.objects.select_related("seller", "buyer"))
    assert {o.status for o in orders} >= {"completed", "pending_seller_action", "refunded"}
    for order in orders:
        for who, url in (
            (order.seller, reverse("orders:seller_order", args=[order.pk])),
            (order.buyer, reverse("orders:buyer_order", args=[order.pk])),
        ):
            client.force_login(who)
            text = _visible(client.get(url).content.decode())
            shown = sorted(name for name in names if re.search(rf"\b{re.escape(name)}\b", text))
            assert shown == [], f"{url} shows {shown}"
            assert " → " not in text  # events, not state changes


HISTORIES = ["billing.Invoice", "billing.Transaction", "billing.Subscription", "payouts.Payout"]
DATE_TIME = re.compile(r"^\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d$")


def test_billing_and_payout_status_histories_read_as_sentences_with_who_and_when(demo, admin_client):
    """The status history on an invoice, a charge or refund, a subscription and a payout
    tells what happened as the order timelines do ("Ada Admin marked the payout of $66.60
    to Sam Seller paid"), with when, never "Scheduled → Done"."""
    from django.contrib.contenttypes.models import ContentType

    names = _machine_names()
    rows_seen = 0
    for label in HISTORIES:
        model = apps.get_model(label)
        content_type = ContentType.objects.get_for_model(model)
        logged = StateLog.objects.filter(content_type=content_type).values_list("object_id", flat=True)
        for pk in sorted(set(logged))[:PER_MODEL]:
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])
            html = admin_client.get(url).content.decode()
            main = html[html.index('id="content-main"') :]
            assert " → " not in _visible(main), url
            sentences = [_visible(c).strip() for c in re.findall(r'(?s)<td class="field-what_happened">(.*?)</td>', main)]
            moments = [_visible(c).strip() for c in re.findall(r'(?s)<td class="field-changed">(.*?)</td>', main)]
            expected = StateLog.objects.filter(content_type=content_type, object_id=pk)
            by_people = {str(log.by) for log in expected if log.by}
            assert len(sentences) == len(moments) == expected.count(), url
            for sentence in sentences:
                assert sentence[:1].isupper() and " " in sentence, (url, sentence)
                assert not re.search(r"\b(" + "|".join(map(re.escape, names)) + r")\b", sentence), (url, sentence)
            for person in by_people:  # who acted is named
                assert any(sentence.startswith(person) for sentence in sentences), (url, person, sentences)
            assert all(DATE_TIME.match(moment) for moment in moments), (url, moments)
            rows_seen += len(sentences)
    assert rows_seen > 30
