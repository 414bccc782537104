"""On a phone (390 px) nothing scrolls sideways and nothing is cut off: every page a buyer,
a seller or staff reaches in the demo fits the screen's width, and no part of a page (a
table, an inline, a badge) scrolls sideways inside it either. The admin's change lists
and tabular inlines become a stack of cards there, as the product's own tables do."""

import pytest
from django.contrib import admin
from django.urls import reverse

from billing.models import Transaction
from marketplace.models import OutboxTask

from .browsing import sign_in
from .test_accessibility import LOGINS, _pages, _seed_demo_before_the_worker_runs

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = 390

# Parts of the page that scroll sideways or cut their content off, with the document
# itself: (what, its scrollWidth, the width it shows). Form controls scroll inside
# themselves by nature (a long value in an input, a select's options), so they are left out.
SIDEWAYS = """() => {
  const found = [];
  const doc = document.scrollingElement;
  if (doc.scrollWidth > window.innerWidth) found.push(['the page', doc.scrollWidth, window.innerWidth]);
  for (const el of document.querySelectorAll('body *')) {
    if (['INPUT', 'SELECT', 'TEXTAREA', 'BUTTON', 'OPTION'].includes(el.tagName)) continue;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (box.width < 3 || box.height < 3 || style.visibility === 'hidden') continue;
    if (['auto', 'scroll', 'hidden', 'clip'].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1) {
      const classes = String(el.className).trim().split(/\\s+/).filter(Boolean);
      const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + classes.map((c) => '.' + c).join('');
      found.push([name, el.scrollWidth, el.clientWidth]);
    }
  }
  return found;
}"""


def _staff_pages():
    """Every admin change list, and the change pages with tabular inlines or long values."""
    pages = [
        ("staff", reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
        for model in admin.site._registry
    ]
    pages += [
        ("staff", reverse("admin:billing_transaction_change", args=[Transaction.objects.order_by("pk").first().pk])),
        ("staff", reverse("admin:marketplace_outboxtask_change", args=[OutboxTask.objects.order_by("pk").first().pk])),
    ]
    return pages


def test_no_demo_page_scrolls_sideways_on_a_phone(live_server, browser, stripe_server, settings, monkeypatch):
    settings.SITE_URL = live_server.url
    _seed_demo_before_the_worker_runs(monkeypatch)
    pages = _pages() + _staff_pages()
    seen = {who for who, _ in pages}
    assert seen == {None, "buyer", "seller", "staff"}
    problems = {}
    checked = 0
    for who in (None, "buyer", "seller", "staff"):
        context = browser.new_context(viewport={"width": PHONE, "height": 900})
        page = context.new_page()
        if who:
            sign_in(page, live_server.url, *LOGINS[who])
            page.wait_for_url(lambda url: "/accounts/login/" not in url)
        for _, path in [p for p in pages if p[0] == who]:
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("load")
            found = page.evaluate(SIDEWAYS)
            if found:
                problems[f"{who or 'anyone'} {path}"] = found
            checked += 1
        context.close()
    assert checked > 50
    assert problems == {}, "\n".join(f"{where}: {found}" for where, found in problems.items())
