import pytest
import stripe
import time_machine
from django.utils import timezone

from billing import gateway
from billing.links import card_update_token
from billing.models import Invoice

pytestmark = pytest.mark.django_db


def _url(invoice):
    return f"/billing/card/{card_update_token(invoice)}/"


def _confirm_setup(client_secret, number):
    """What Stripe.js's confirmCardSetup does with the card the customer typed."""
    seti = client_secret.split("_secret_")[0]
    gateway._configure()
    import requests

    response = requests.post(
        f"{stripe.api_base}/v1/setup_intents/{seti}/confirm",
        json={
            "key": "pk_test_localstripe",
            "client_secret": client_secret,
            "payment_method_data": {
                "type": "card",
                "card": {"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"},
            },
        },
        timeout=5,
    )
    return response.json()


def test_the_link_shows_the_invoice_and_a_card_form_from_stripe_js(client, billing):
    invoice = billing.invoice(billing.customer(card="4000000000009987"))
    response = client.get(_url(invoice))
    html = response.content.decode()
    assert response.status_code == 200
    assert f"Invoice #{invoice.pk}: $10.00" in html
    assert f'src="{billing.server.url}/js.stripe.com/v3/"' in html
    assert "seti_" in html and "cannot be charged again" in html
    assert Invoice.objects.get(pk=invoice.pk).status == "process_failed"  # GET changes nothing


def test_saving_a_card_charges_the_failed_invoice_at_once(client, billing):
    invoice = billing.invoice(billing.customer(card="4000000000009987"))
    secret = client.get(_url(invoice)).context["client_secret"]
    setup = _confirm_setup(secret, "4242424242424242")
    assert setup["status"] == "succeeded"

    with billing.capture(execute=True):
        response = client.post(_url(invoice), {"setup_intent": setup["id"]}, follow=True)

    assert Invoice.objects.get(pk=invoice.pk).status == "settled"
    html = response.content.decode()
    assert "Visa •••• 4242 (exp. 12/34) saved. We are charging it now." in html
    assert "This invoice is paid. Thank you." in client.get(_url(invoice)).content.decode()


def test_someone_elses_card_setup_is_refused_and_changes_nothing(client, billing):
    mine = billing.invoice(billing.customer(card="4000000000009987"))
    theirs = billing.invoice(billing.customer(card="4000000000009987"))
    secret = client.get(_url(theirs)).context["client_secret"]
    setup = _confirm_setup(secret, "4242424242424242")

    response = client.post(_url(mine), {"setup_intent": setup["id"]})

    assert response.status_code == 400
    assert "The card setup belongs to someone else." in response.content.decode()
    assert Invoice.objects.get(pk=mine.pk).status == "process_failed"


def test_a_forged_or_missing_setup_is_refused(client, billing):
    invoice = billing.invoice(billing.customer(card="4000000000009987"))
    response = client.post(_url(invoice), {"setup_intent": "seti_forged"})
    assert response.status_code == 400 and "Nothing was changed." in response.content.decode()
    assert Invoice.objects.get(pk=invoice.pk).status == "process_failed"


def test_tampered_and_expired_links_get_their_own_page(client, billing):
    invoice = billing.invoice(billing.customer())
    url = _url(invoice)
    tampered = client.get(url[:-3] + "xx/")
    assert tampered.status_code == 400 and "This link is not valid" in tampered.content.decode()
    with time_machine.travel(timezone.now() + timezone.timedelta(days=15)):
        expired = client.get(url)
    assert expired.status_code == 410 and "This link has expired" in expired.content.decode()
