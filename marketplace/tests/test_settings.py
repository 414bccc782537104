"""Wrong settings stop the process at start with a message naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _start_django(**env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG", "SECRET_KEY"}}
    env.update(env_overrides)
    env["DJANGO_SETTINGS_MODULE"] = "marketplace.settings.base"
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_embedded_default_starts_with_no_environment_at_all():
    result = _start_django()
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "postgress//db"),
        ("CELERY_BROKER_URL", "amqq://broker"),
        ("EMAIL_URL", "smtpx://mail"),
        ("STRIPE_API_BASE", "localhost:8420"),
        ("SITE_URL", "example.com"),
    ],
)
def test_a_malformed_url_stops_the_start_and_names_the_variable(variable, value):
    result = _start_django(**{variable: value})
    assert result.returncode != 0
    assert f"{variable} is not a valid URL" in result.stderr


@pytest.mark.parametrize("missing", ["SECRET_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"])
def test_production_mode_refuses_to_start_without_its_secrets(missing):
    secrets = {"SECRET_KEY": "s" * 50, "STRIPE_SECRET_KEY": "sk_live_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"}
    secrets.pop(missing)
    result = _start_django(DEBUG="0", **secrets)
    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG is off" in result.stderr


def test_production_mode_starts_when_every_secret_is_given():
    result = _start_django(
        DEBUG="0", SECRET_KEY="s" * 50, STRIPE_SECRET_KEY="sk_live_x", STRIPE_WEBHOOK_SECRET="whsec_x"
    )
    assert result.returncode == 0, result.stderr
