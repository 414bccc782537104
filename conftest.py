"""
Suite-wide fixtures and the rules for tests that need real services.

Tests marked `postgres`, `redis` or `browser` are skipped, with the reason, when the
service is not there (a laptop running `make test` on SQLite). CI sets
REQUIRE_REAL_SERVICES=1: then a missing service fails the run instead of skipping, so a
green CI means the locking, real-worker and browser tests ran.
"""

import os
import shutil

import pytest

# Playwright's sync API runs an event loop in the test thread; the Django ORM calls the
# tests make around it are still synchronous, one thread at a time.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

REQUIRE_REAL_SERVICES = os.environ.get("REQUIRE_REAL_SERVICES") == "1"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
# axe-core, pinned in package.json and installed by `make test` (npm ci) when npm is there.
AXE_JS = os.path.join(os.path.dirname(__file__), "node_modules", "axe-core", "axe.min.js")


def _database_is_postgres() -> bool:
    from django.conf import settings

    return "postgresql" in settings.DATABASES["default"]["ENGINE"]


def _broker_is_redis() -> bool:
    from django.conf import settings

    return settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://"))


def pytest_collection_modifyitems(config, items):
    missing = {
        "postgres": None if _database_is_postgres() else "needs PostgreSQL (set DATABASE_URL)",
        "redis": None
        if (_broker_is_redis() and _database_is_postgres())
        else "needs Redis and PostgreSQL (set CELERY_BROKER_URL and DATABASE_URL)",
        "browser": None
        if os.path.exists(CHROMIUM)
        else f"needs Chromium at {CHROMIUM} (apt-get install chromium)",
        "axe": None
        if os.path.exists(AXE_JS)
        else "needs axe-core from npm (install Node.js; make test runs npm ci)",
    }
    for item in items:
        for marker, reason in missing.items():
            if reason and item.get_closest_marker(marker):
                if REQUIRE_REAL_SERVICES:
                    pytest.exit(f"REQUIRE_REAL_SERVICES=1 but {item.nodeid} {reason}", returncode=3)
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _email_and_media(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def django_capture_on_commit_callbacks():
    """pytest-django's fixture, made to treat its block as one committed transaction for
    the outbox (marketplace/outbox.py): emails and deferred calls written inside the block
    form their own batch, published by a callback the block captures, instead of joining
    the batch of rows written earlier in the test's never-committed transaction."""
    from contextlib import contextmanager

    from django.test import TestCase

    from marketplace.outbox import outbox_batch_close

    @contextmanager
    def capture(*, using="default", execute=False):
        outbox_batch_close()
        try:
            with TestCase.captureOnCommitCallbacks(using=using, execute=execute) as callbacks:
                yield callbacks
        finally:
            outbox_batch_close()

    return capture


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright, headless, with no network but loopback."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


class AxeCheck:
    """`axe_check(page)` runs axe-core in the page and returns its serious and critical
    violations, one line each ("color-contrast (serious): .badge ..."). Pages carry a
    Content-Security-Policy that refuses injected inline scripts: give each browser
    context `axe_check.script` with `context.add_init_script(...)` before it opens pages
    (init scripts are the browser's own, outside the page's policy)."""

    def __init__(self):
        with open(AXE_JS) as source:
            self.script = source.read()

    def __call__(self, page) -> list[str]:
        result = page.evaluate(
            "async () => await axe.run(document, {resultTypes: ['violations'],"
            " runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
        )
        return [
            f"{v['id']} ({v['impact']}): {v['help']} at "
            + "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]


@pytest.fixture(scope="session")
def axe_check():
    return AxeCheck()


@pytest.fixture
def demo_people(db):
    from marketplace.demo import demo_people_seed

    return demo_people_seed()


# --- a Stripe-compatible server over HTTP ------------------------------------------------


@pytest.fixture(scope="session")
def localstripe_url():
    """localstripe (PyPI), with the project's additions, started on a free loopback port
    for the whole session (marketplace/localstripe_server.py)."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "marketplace.localstripe_server", "--port", str(port), "--test-hooks"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/js.stripe.com/v3/", timeout=1).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    f"localstripe did not start: {process.stderr.read().decode()[-2000:]}"
                ) from None
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


class StripeTestServer:
    def __init__(self, url):
        self.url = url

    def _post(self, path, data):
        import json
        import urllib.request

        request = urllib.request.Request(
            f"{self.url}{path}", data=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
        )
        return json.loads(urllib.request.urlopen(request, timeout=5).read() or b"{}")

    def fail_next(self, count, status=503, path="/v1/", method=None):
        """The next `count` API calls under `path` (of `method`, if given) answer `status`
        (gateway trouble)."""
        data = {"count": count, "status": status, "path": path}
        if method:
            data["method"] = method
        self._post("/_config/faults", data)

    def flush(self):
        """Forget every object and idempotency key. Test databases reuse primary keys, so
        a test that looks transfers up by group and payout id starts from an empty Stripe."""
        self._post("/_config/flush", {})

    def flush_idempotency_keys(self):
        """Stripe forgets idempotency keys after 24 hours."""
        self._post("/_config/forget_idempotency_keys", {})

    def lose_answers(self, count, path="/v1/"):
        """The next `count` POSTs under `path` are done (a transfer is made, its key
        remembered), then answered 503: Stripe's answer lost on the way back."""
        self._post("/_config/lost_answers", {"count": count, "path": path})

    def in_progress_next(self, count, path="/v1/"):
        """The next `count` POSTs under `path` answer 409 `idempotency_error`, as Stripe
        does while another request with the same key is in progress; nothing is done."""
        self.fail_next(count, status=409, path=path, method="POST")

    def dispute(self, payment_intent, amount=None, reason="fraudulent", inquiry=False):
        """The customer's bank disputes the PaymentIntent's charge (`charge.dispute.created`);
        with `inquiry`, it only asks questions first (`warning_needs_response`)."""
        data = {"payment_intent": payment_intent, "reason": reason, "inquiry": inquiry}
        if amount is not None:
            data["amount"] = amount
        return self._post("/_config/disputes", data)

    def refunds_pending(self, count=1):
        """The next `count` refunds made stay `pending` at Stripe until `refund_settle`."""
        self._post("/_config/refunds/pending", {"count": count})

    def refund_settle(self, refund_id, status, failure_reason=None):
        """Stripe settles a pending refund `succeeded`, `failed` (with `failure_reason`) or
        `canceled`, and sends `refund.updated`. Returns the refund."""
        data = {"status": status}
        if failure_reason:
            data["failure_reason"] = failure_reason
        return self._post(f"/_config/refunds/{refund_id}", data)

    def onboard(self, link_url, action="complete"):
        """Answer a Connect onboarding link the way a seller does on the onboarding page:
        "complete" (everything submitted), "partial" (the ID document left due) or
        "back". Returns the URL the page sends the browser to."""
        from payouts.demo import onboarding_page_answer

        return onboarding_page_answer(link_url, action)

    def card(self, number="4242424242424242", exp_year=2034):
        """A Stripe PaymentMethod for a test card number (as Elements would make)."""
        import stripe

        stripe.api_base = self.url
        return stripe.PaymentMethod.create(
            type="card",
            card={"number": number, "exp_month": 12, "exp_year": exp_year, "cvc": "123"},
            api_key="sk_test_localstripe",
        )["id"]


@pytest.fixture
def stripe_server(settings, localstripe_url):
    """Point billing at the session's localstripe, with fresh idempotency keys per test
    (test databases reuse primary keys) and no injected faults."""
    import uuid

    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_JS_URL = f"{localstripe_url}/js.stripe.com/v3/"
    settings.STRIPE_SECRET_KEY = "sk_test_localstripe"
    settings.STRIPE_IDEMPOTENCY_NAMESPACE = f"test-{uuid.uuid4().hex[:12]}"
    server = StripeTestServer(localstripe_url)
    server.fail_next(0)
    server.lose_answers(0)
    server.refunds_pending(0)
    yield server
    server.fail_next(0)
    server.lose_answers(0)
    server.refunds_pending(0)
