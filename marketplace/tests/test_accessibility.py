"""Every page a buyer, a seller or staff reaches in the demo passes axe-core's WCAG 2.1 A
and AA rules (and its best practices) with no serious or critical violation, on a laptop
(1280 px) and a phone (390 px). axe-core is the npm package pinned in package.json,
injected into each page as the browser shows it."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from billing.links import card_update_token, receipt_token
from billing.models import Invoice, Receipt
from marketplace import outbox
from orders.links import NOT_RECEIVED, RECEIVED, confirmation_token
from orders.models import Order

from .browsing import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.axe, pytest.mark.django_db(transaction=True)]

WIDTHS = {"laptop": 1280, "phone": 390}


def _one_per_status(orders):
    seen = {}
    for order in orders:
        seen.setdefault(order.status, order)
    return list(seen.values())


def _pages():
    """(who, path) for every kind of page in the demo."""
    seller_orders = Order.objects.filter(seller__email="seller@demo.test").order_by("pk")
    buyer_orders = Order.objects.filter(buyer__email="buyer@demo.test").order_by("pk")
    waiting = Order.objects.filter(status=Order.Status.PENDING_CUSTOMER_CONFIRMATION).first()
    refundable = seller_orders.filter(status=Order.Status.COMPLETED).first()
    pages = [
        (None, "/accounts/login/"),
        (
            None,
            reverse(
                "orders:confirmation_link",
                args=[waiting.pk, confirmation_token(order=waiting, answer=RECEIVED)],
            ),
        ),
        (
            None,
            reverse(
                "orders:confirmation_link",
                args=[waiting.pk, confirmation_token(order=waiting, answer=NOT_RECEIVED)],
            ),
        ),
        (None, reverse("orders:confirmation_link", args=[waiting.pk, "tampered"])),
        (None, "/no-such-page/"),
    ]
    for status in (Invoice.Status.PROCESS_FAILED, Invoice.Status.SETTLED, Invoice.Status.PROCESSING):
        invoice = Invoice.objects.filter(status=status).first()
        if invoice:
            pages.append((None, reverse("billing:update_card", args=[card_update_token(invoice)])))
    pages += [
        (None, reverse("billing:receipt", args=[receipt_token(r)]))
        for r in Receipt.objects.order_by("kind")[:2]
    ]
    pages += [("buyer", "/"), ("buyer", reverse("orders:buyer_orders"))]
    pages += [("buyer", reverse("orders:buyer_order", args=[o.pk])) for o in _one_per_status(buyer_orders)]
    pages += [("buyer", reverse("orders:buyer_order", args=[999999]))]
    pages += [
        ("seller", "/"),
        ("seller", reverse("orders:seller_orders")),
        ("seller", reverse("orders:seller_orders") + "?status=pending_seller_action"),
        ("seller", reverse("payouts:seller_payouts")),
        ("seller", reverse("payouts:payout_account")),
        ("seller", reverse("orders:seller_order_refund", args=[refundable.pk])),
    ]
    pages += [("seller", reverse("orders:seller_order", args=[o.pk])) for o in _one_per_status(seller_orders)]
    first = {m: m.objects.order_by("pk").first() for m in (Order, Invoice)}
    pages += [
        ("staff", "/admin/"),
        ("staff", "/admin/orders/order/"),
        ("staff", f"/admin/orders/order/{first[Order].pk}/change/"),
        ("staff", "/admin/orders/ordersettings/1/change/"),
        ("staff", "/admin/billing/invoice/"),
        ("staff", f"/admin/billing/invoice/{first[Invoice].pk}/change/"),
        ("staff", "/admin/billing/transaction/"),
        ("staff", "/admin/payouts/payout/"),
        ("staff", "/admin/payouts/earning/"),
        ("staff", "/admin/payouts/payoutaccount/"),
        ("staff", "/admin/finance/payoutcyclesettings/1/change/"),
        ("staff", "/admin/post_office/email/"),
    ]
    return pages


LOGINS = {
    "buyer": ("buyer@demo.test", "demo-buyer-2026"),
    "seller": ("seller@demo.test", "demo-seller-2026"),
    "staff": ("admin@demo.test", "demo-admin-2026"),
}


def _context(browser, live_server, who, width, axe_check):
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.add_init_script(axe_check.script)
    page = context.new_page()
    if who:
        sign_in(page, live_server.url, *LOGINS[who])
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return context, page


def _seed_demo_before_the_worker_runs(monkeypatch):
    """seed_demo as `make run` runs it: its outbox rows are queued for a worker that has
    not picked them up yet (the demo charges what it needs itself). Tests run tasks
    eagerly, which would let a charge overtake the seed's own steps."""
    with monkeypatch.context() as patch:
        patch.setattr(outbox._Batch, "publish", lambda batch: None)
        call_command("seed_demo", stdout=StringIO())


def test_every_demo_page_passes_axe_at_laptop_and_phone_width(
    live_server, browser, axe_check, stripe_server, settings, monkeypatch
):
    settings.SITE_URL = live_server.url
    _seed_demo_before_the_worker_runs(monkeypatch)
    pages = _pages()
    assert len(pages) > 30
    problems = {}
    for device, width in WIDTHS.items():
        for who in (None, "buyer", "seller", "staff"):
            context, page = _context(browser, live_server, who, width, axe_check)
            for _, path in [p for p in pages if p[0] == who]:
                page.goto(f"{live_server.url}{path}")
                found = axe_check(page)
                if found:
                    problems[f"{device} {who or 'anyone'} {path}"] = found
            context.close()
    assert problems == {}, "\n".join(
        f"{where}:\n  " + "\n  ".join(lines) for where, lines in problems.items()
    )
