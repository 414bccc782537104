"""docker-compose.yml, the production shape, refuses to start without its secrets, and runs
the app with DEBUG=0, which refuses public or short ones (test_settings.py)."""

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {
    "SECRET_KEY": secrets.token_urlsafe(64),
    "POSTGRES_PASSWORD": secrets.token_hex(16),
    "STRIPE_SECRET_KEY": "sk_live_" + secrets.token_hex(24),
    "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_hex(24),
    "STRIPE_PUBLISHABLE_KEY": "pk_live_" + secrets.token_hex(24),
    "SITE_URL": "https://market.example.com",
    "ALLOWED_HOSTS": "market.example.com",
}


def _compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        return ["docker", "compose"]
    if os.environ.get("REQUIRE_REAL_SERVICES") == "1":
        pytest.fail(
            "REQUIRE_REAL_SERVICES=1 but no Compose client is installed (apt-get install docker-compose)"
        )
    pytest.skip("needs a Compose client (apt-get install docker-compose)")


def _config(**variables):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root"), **variables}
    return subprocess.run(
        [*_compose_command(), "config"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_the_production_shape_is_valid_with_its_secrets_and_runs_the_app_with_debug_off():
    result = _config(**REQUIRED)
    assert result.returncode == 0, result.stderr
    assert "DEBUG: '0'" in result.stdout or 'DEBUG: "0"' in result.stdout
    assert REQUIRED["SECRET_KEY"] in result.stdout


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_the_production_shape_refuses_to_start_without_a_secret_and_names_it(missing):
    variables = {name: value for name, value in REQUIRED.items() if name != missing}
    result = _config(**variables)
    assert result.returncode != 0
    assert f"set {missing}" in result.stderr


def _web_service() -> dict:
    result = _config(**REQUIRED)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]["web"]


def test_the_web_process_is_reachable_only_from_the_host_itself_for_a_tls_proxy_there():
    published = _web_service()["ports"]
    # Compose writes a published port as "127.0.0.1:8000:8000/tcp" or as a mapping.
    addresses = [
        port.get("host_ip", "0.0.0.0") if isinstance(port, dict) else port.rsplit(":", 2)[0]
        for port in published
    ]
    assert addresses == ["127.0.0.1"], published


def _as_the_web_process(code: str, **variables) -> subprocess.CompletedProcess:
    """Run `code` with exactly the environment the compose file gives the web process."""
    result = _config(**REQUIRED, **variables)
    assert result.returncode == 0, result.stderr
    service = yaml.safe_load(result.stdout)["services"]["web"]
    environment = {name: str(value) for name, value in service["environment"].items()}
    environment.update(PATH=os.environ.get("PATH", ""), DJANGO_SETTINGS_MODULE="marketplace.settings.base")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


# A request as gunicorn sees it: the client wrote its own X-Forwarded-For entry; when a
# proxy is there, it appended the address it saw (203.0.113.7) and set X-Forwarded-Proto.
SEEN_BY_THE_APP = (
    "from django.test import RequestFactory\n"
    "from accounts.throttling import client_ip\n"
    "request = RequestFactory().post('/accounts/login/', REMOTE_ADDR='{remote}',\n"
    "    HTTP_X_FORWARDED_FOR='{forwarded}', HTTP_X_FORWARDED_PROTO='https')\n"
    "print(client_ip(request), request.is_secure())\n"
)


def test_the_production_shape_trusts_the_one_tls_proxy_that_alone_can_reach_gunicorn():
    # `web` is published on the host's loopback only, so every connection comes through the
    # host's TLS proxy: its X-Forwarded-For entry (the rightmost) is the client's address,
    # and its X-Forwarded-Proto says https. Entries left of it are the client's own writing.
    environment = _web_service()["environment"]
    assert str(environment["TRUSTED_PROXY_COUNT"]) == "1"
    assert environment["SECURE_PROXY_SSL_HEADER"] == "X-Forwarded-Proto"
    result = _as_the_web_process(
        SEEN_BY_THE_APP.format(remote="172.18.0.1", forwarded="192.0.2.1, 203.0.113.7")
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "203.0.113.7 True"


def test_without_a_proxy_the_operator_says_so_and_nothing_forwarded_is_believed():
    # Published without a proxy in front: a client reaching gunicorn directly writes what it
    # likes, so neither header counts (README "Production shape").
    result = _as_the_web_process(
        SEEN_BY_THE_APP.format(remote="198.51.100.20", forwarded="192.0.2.1"),
        TRUSTED_PROXY_COUNT="0",
        SECURE_PROXY_SSL_HEADER="",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "198.51.100.20 False"
