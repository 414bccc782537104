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


def test_the_embedded_broker_connects_without_a_kombu_warning(tmp_path):
    # `make run` printed "No hostname was supplied. Reverting to default 'localhost'" at start.
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env["DJANGO_SETTINGS_MODULE"] = "marketplace.settings.base"
    code = (
        "import logging, django; logging.basicConfig(); django.setup()\n"
        "from marketplace.celery import app\n"
        "with app.connection_for_write() as connection:\n"
        "    connection._info()\n"
        "    print(connection.transport_cls)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "filesystem"
    assert "No hostname was supplied" not in result.stderr


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


STRONG = {
    "SECRET_KEY": "k3Y-" + "a1b2c3d4e5" * 6,
    "STRIPE_SECRET_KEY": "sk_live_" + "51HxQk2eZvKYlo2C0a1b2c3d4e5f6",
    "STRIPE_WEBHOOK_SECRET": "whsec_" + "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
}


@pytest.mark.parametrize("missing", ["SECRET_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"])
def test_production_mode_refuses_to_start_without_its_secrets(missing):
    secrets = dict(STRONG)
    secrets.pop(missing)
    result = _start_django(DEBUG="0", **secrets)
    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG is off" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        # The documented local defaults are public: anyone could forge webhooks, buyer links
        # and card links with them.
        ("SECRET_KEY", "insecure-local-only-key-do-not-use-in-production", "is a public default value"),
        ("STRIPE_SECRET_KEY", "sk_test_localstripe", "is a public default value"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_localstripe", "is a public default value"),
        ("SECRET_KEY", "x", "is too short to be a real key: at least 50 characters"),
        ("SECRET_KEY", "a" * 60, "is not random enough"),
        ("SECRET_KEY", "django-insecure-" + "q1w2e3r4t5" * 5, "is Django's generated development key"),
        ("STRIPE_SECRET_KEY", "x", "must start with sk_live_ or sk_test_ or rk_"),
        ("STRIPE_SECRET_KEY", "pk_live_" + "a1b2c3d4" * 5, "must start with sk_live_ or sk_test_ or rk_"),
        ("STRIPE_SECRET_KEY", "sk_live_x", "is too short to be a real key"),
        ("STRIPE_WEBHOOK_SECRET", "s3cret-" + "a1b2c3d4" * 5, "must start with whsec_"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_x", "is too short to be a real key"),
    ],
)
def test_production_mode_refuses_a_public_short_or_unprefixed_secret_and_names_it(variable, value, message):
    result = _start_django(DEBUG="0", **{**STRONG, variable: value})
    assert result.returncode != 0
    assert f"{variable} " in result.stderr and message in result.stderr


def test_production_mode_starts_when_every_secret_is_given():
    result = _start_django(DEBUG="0", **STRONG)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("restricted", ["rk_live_", "sk_test_", "rk_test_"])
def test_restricted_and_test_mode_stripe_keys_are_real_keys(restricted):
    result = _start_django(
        DEBUG="0", **{**STRONG, "STRIPE_SECRET_KEY": restricted + "51HxQk2eZvKYlo2C0a1b2c3d4e5f6"}
    )
    assert result.returncode == 0, result.stderr
