"""docker-compose.yml, the production shape, refuses to start without its secrets, and runs
the app with DEBUG=0, which refuses public or short ones (test_settings.py)."""

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

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
