"""Production security settings: https, HSTS, the proxy header, the Content-Security-Policy,
and `check --deploy` with the README's production variables."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

ROOT = Path(__file__).resolve().parents[2]


def readme_production_variables() -> dict[str, str]:
    """The README's block of production variables, with each `<random>` made up anew."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### What production must set") :]
    block = section[section.index("```sh") + len("```sh") : section.index("```", section.index("```sh") + 5)]
    variables = {}
    for line in block.strip().splitlines():
        if line.startswith("#"):  # what to set only in some setups
            continue
        line = re.sub(r"\s+#.*$", "", line).strip()
        name, _, value = line.partition("=")
        variables[name] = value.replace("<random>", secrets.token_hex(32))
    return variables


def _manage(*args, **env_overrides):
    # Nothing from this machine's environment but the path: only what the README lists.
    env = {"PATH": os.environ.get("PATH", ""), **env_overrides}
    env["DJANGO_SETTINGS_MODULE"] = "marketplace.settings.base"
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_reports_no_issue_with_the_readme_production_variables():
    variables = readme_production_variables()
    assert variables["DEBUG"] == "0" and variables["SITE_URL"].startswith("https://")
    result = _manage("manage.py", "check", "--deploy", "--fail-level", "WARNING", **variables)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_over_https_trusts_no_proxy_header_unless_one_is_named():
    result = _manage(
        "-c",
        "import django; django.setup(); from django.test import RequestFactory; "
        "print(RequestFactory().get('/', HTTP_X_FORWARDED_PROTO='https').is_secure())",
        **readme_production_variables(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_production_over_https_redirects_to_https_sends_hsts_and_trusts_the_proxy_header_named():
    variables = {**readme_production_variables(), "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}
    result = _manage(
        "-c",
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)",
        **variables,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "True 31536000 ('HTTP_X_FORWARDED_PROTO', 'https') True True"


def test_each_https_setting_comes_from_the_environment():
    variables = readme_production_variables()
    result = _manage(
        "-c",
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, getattr(s, 'SECURE_PROXY_SSL_HEADER', None))",
        **{
            **variables,
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_HSTS_SECONDS": "600",
            "SECURE_PROXY_SSL_HEADER": "",
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "False 600 None"


@override_settings(SECURE_SSL_REDIRECT=True, SECURE_HSTS_SECONDS=31536000)
def test_plain_http_is_redirected_to_https_but_the_health_check_is_not(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 301 and response.url.startswith("https://")
    assert client.get("/healthz").status_code in (200, 503)
    secure = client.get("/accounts/login/", secure=True)
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000"


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_every_page_has_a_policy_allowing_only_its_own_files_and_stripe_js(client, db, settings, path):
    settings.STRIPE_JS_URL = "https://js.stripe.com/v3/"
    policy = _policy(client.get(path))
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    external = {source for sources in policy.values() for source in sources if "://" in source}
    assert external == {
        "https://js.stripe.com",
        "https://*.js.stripe.com",
        "https://hooks.stripe.com",
        "https://api.stripe.com",
    }
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]


def test_a_stripe_compatible_server_in_development_is_the_one_external_origin(client, db, settings):
    settings.STRIPE_JS_URL = "http://127.0.0.1:8420/js.stripe.com/v3/"
    policy = _policy(client.get("/accounts/login/"))
    assert policy["script-src"] == ["'self'", "http://127.0.0.1:8420"]
    assert policy["connect-src"] == ["'self'", "http://127.0.0.1:8420"]


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/admin/orders/order/", {"q": "lost\x00"}),
        ("get", "/admin/billing/invoice/", {"status__exact": "\x00"}),
        ("post", "/accounts/login/", {"username": "seller@demo.test\x00", "password": "x"}),
        (
            "post",
            "/admin/billing/invoice/",
            {"action": "cancel_invoices", "_selected_action": ["1"], "reason": "\x00"},
        ),
        ("get", "/billing/card/abc%00def/", {}),
    ],
)
def test_a_nul_character_anywhere_in_a_request_is_refused_with_a_message(admin_client, method, path, data):
    from axes.models import AccessAttempt

    response = getattr(admin_client, method)(path, data)
    assert response.status_code == 400
    assert "contains a NUL character" in response.content.decode()
    assert not AccessAttempt.objects.exists()


@pytest.mark.parametrize(
    "changelist",
    [
        "/admin/orders/order/",
        "/admin/billing/invoice/",
        "/admin/payouts/payout/",
        "/admin/axes/accessattempt/",
    ],
)
def test_an_admin_action_on_a_tampered_selection_says_so_and_changes_nothing(admin_client, changelist):
    response = admin_client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": ["x"], "apply": "1", "reason": "r"},
        follow=True,
    )
    assert response.status_code == 200
    assert "The selection is not made of rows of this list. Nothing was changed." in response.content.decode()
