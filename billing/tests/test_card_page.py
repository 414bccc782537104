import pytest
import stripe
import time_machine
from django.utils import timezone

from billing import gateway
from billing.links import card_update_token
from billing.models import Attempt, Invoice

pytestmark = pytest.mark.django_db


def _url(invoice):
    return f"/billing/card/{card_update_token(invoice)}/"


def _start_setup(client, invoice) -> str:
    """What the page's script does when the customer starts typing a card."""
    response = client.post(_url(invoice) + "setup/")
    assert response.status_code == 200, response.content
    return response.json()["client_secret"]


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
    assert f"Invoice #{invoice.pk} from <strong>Marketplace</strong>" in html
    assert "<td>Thing</td>" in html and "$10.00" in html  # what is paid for, line by line
    assert "Your card was declined." in html and "Your card was reported lost." in html
    assert f'src="{billing.server.url}/js.stripe.com/v3/"' in html
    assert 'id="card-form"' in html and "cannot be charged again" in html
    assert "seti_" not in html  # no SetupIntent until the customer starts typing a card
    assert Invoice.objects.get(pk=invoice.pk).status == "process_failed"  # GET changes nothing


def test_saving_a_card_charges_the_failed_invoice_at_once(client, billing):
    invoice = billing.invoice(billing.customer(card="4000000000009987"))
    secret = _start_setup(client, invoice)
    setup = _confirm_setup(secret, "4242424242424242")
    assert setup["status"] == "succeeded"

    with billing.capture(execute=True):
        response = client.post(_url(invoice), {"setup_intent": setup["id"]}, follow=True)

    assert Invoice.objects.get(pk=invoice.pk).status == "settled"
    html = response.content.decode()
    assert "Visa •••• 4242 (exp. 12/34) saved." in html
    # The page came back before the worker charged the card: it says it is waiting, never
    # that it is paid, and asks again (card_status) until the bank has answered.
    assert "We are charging $10.00 to your card." in html and "Paid" not in html
    assert "/status/" in html
    html = client.get(_url(invoice)).content.decode()
    assert "Paid. Thank you." in html and "See and print your receipt 0000" in html


def test_someone_elses_card_setup_is_refused_and_changes_nothing(client, billing):
    mine = billing.invoice(billing.customer(card="4000000000009987"))
    theirs = billing.invoice(billing.customer(card="4000000000009987"))
    secret = _start_setup(client, theirs)
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


def _bank_answers(client_secret, *, confirmed):
    """What Stripe.js's confirmCardPayment does when the customer passes or fails their
    bank's 3-D Secure check (localstripe's test endpoint for it)."""
    import requests

    gateway._configure()
    pi = client_secret.split("_secret_")[0]
    response = requests.post(
        f"{stripe.api_base}/v1/payment_intents/{pi}/_authenticate?success={'true' if confirmed else 'false'}",
        json={"key": "pk_test_localstripe", "client_secret": client_secret},
        timeout=5,
    )
    assert response.status_code == 200, response.text


def test_a_payment_the_bank_wants_confirmed_is_confirmed_on_the_page_and_settles(client, billing, mailoutbox):
    invoice = billing.invoice(billing.customer(card="4000002500003155"))
    assert invoice.status == "process_failed"
    email = mailoutbox[-1]
    assert email.subject == f"Confirm the payment of $10.00 for invoice #{invoice.pk} (Thing) with your bank"
    assert "Confirm the payment: http" in email.body and "/billing/card/" in email.body

    page = client.get(_url(invoice))
    offer = page.context["authenticate"]
    assert (
        offer["payment_intent"].startswith("pi_") and "Confirm the payment of $10.00" in page.content.decode()
    )
    _bank_answers(offer["client_secret"], confirmed=True)
    with billing.capture(execute=True):
        response = client.post(_url(invoice), {"payment_intent": offer["payment_intent"]}, follow=True)

    assert "Your bank confirmed the payment. Thank you." in response.content.decode()
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert invoice.status == "settled"
    (done,) = invoice.transactions.filter(status="done")
    assert done.stripe_id == offer["payment_intent"]  # the same PaymentIntent, not a new charge
    assert Attempt.objects.filter(transaction__invoice=invoice).count() == 1


def test_a_payment_the_bank_refused_to_confirm_charges_nothing_and_can_be_tried_again(client, billing):
    invoice = billing.invoice(billing.customer(card="4000002500003155"))
    offer = client.get(_url(invoice)).context["authenticate"]
    _bank_answers(offer["client_secret"], confirmed=False)

    response = client.post(_url(invoice), {"payment_intent": offer["payment_intent"]})

    assert response.status_code == 400
    assert "Your bank did not confirm the payment, so nothing was charged." in response.content.decode()
    assert Invoice.objects.get(pk=invoice.pk).status == "process_failed"


def test_a_forged_payment_confirmation_is_refused_and_changes_nothing(client, billing):
    mine = billing.invoice(billing.customer(card="4000002500003155"))
    theirs = billing.invoice(billing.customer(card="4000002500003155"))
    offer = client.get(_url(theirs)).context["authenticate"]
    _bank_answers(offer["client_secret"], confirmed=True)

    response = client.post(_url(mine), {"payment_intent": offer["payment_intent"]})

    assert response.status_code == 400
    assert "This payment is not waiting for your bank any more." in response.content.decode()
    assert Invoice.objects.get(pk=mine.pk).status == "process_failed"
    assert Invoice.objects.get(pk=theirs.pk).status == "process_failed"


def test_a_payment_confirmed_in_a_tab_that_was_closed_settles_when_the_reloaded_page_is_used(client, billing):
    invoice = billing.invoice(billing.customer(card="4000002500003155"))
    offer = client.get(_url(invoice)).context["authenticate"]
    _bank_answers(offer["client_secret"], confirmed=True)  # and the browser was closed

    # Showing the page asks Stripe nothing, so it still offers the confirmation; Stripe.js
    # finds the payment already confirmed and the page posts it back.
    assert client.get(_url(invoice)).context["authenticate"] == offer
    with billing.capture(execute=True):
        html = client.post(_url(invoice), {"payment_intent": offer["payment_intent"]}, follow=True)

    assert "Your bank confirmed the payment. Thank you." in html.content.decode()
    assert Invoice.objects.get(pk=invoice.pk).status == "settled"


def _status_at_stripe(payment_intent_id):
    gateway._configure()
    return stripe.PaymentIntent.retrieve(payment_intent_id, api_key="sk_test_localstripe")["status"]


def test_paying_with_another_card_withdraws_the_payment_waiting_for_the_bank(client, billing):
    invoice = billing.invoice(billing.customer(card="4000002500003155"))
    offer, secret = client.get(_url(invoice)).context["authenticate"], _start_setup(client, invoice)
    setup = _confirm_setup(secret, "4242424242424242")

    with billing.capture(execute=True):
        client.post(_url(invoice), {"setup_intent": setup["id"]})

    assert Invoice.objects.get(pk=invoice.pk).status == "settled"
    assert _status_at_stripe(offer["payment_intent"]) == "canceled"
    # A tab left open on the old page cannot confirm it any more: one charge, not two.
    import requests

    pi = offer["client_secret"].split("_secret_")[0]
    answer = requests.post(
        f"{stripe.api_base}/v1/payment_intents/{pi}/_authenticate?success=true",
        json={"key": "pk_test_localstripe", "client_secret": offer["client_secret"]},
        timeout=5,
    )
    assert answer.status_code == 400
    assert _status_at_stripe(offer["payment_intent"]) == "canceled"


def test_canceling_the_invoice_withdraws_the_payment_waiting_for_the_bank(client, billing):
    from billing import services

    invoice = billing.invoice(billing.customer(card="4000002500003155"))
    offer = client.get(_url(invoice)).context["authenticate"]

    with billing.capture(execute=True):
        services.invoice_cancel(invoice_id=invoice.pk, reason="Ordered by mistake")

    assert _status_at_stripe(offer["payment_intent"]) == "canceled"
    assert "authenticate" not in client.get(_url(invoice)).context


def test_a_card_set_up_with_3d_secure_is_not_asked_again_for_the_payment(client, billing):
    """Stripe: 4000002500003155 set up through a SetupIntent (the customer passed 3-D
    Secure there) needs no further authentication for off-session payments."""
    import requests

    invoice = billing.invoice(billing.customer())  # no card yet
    secret = _start_setup(client, invoice)
    setup = _confirm_setup(secret, "4000002500003155")
    assert setup["status"] == "requires_action"  # the bank's check, once, on the page
    passed = requests.post(
        f"{stripe.api_base}/v1/setup_intents/{setup['id']}/confirm",
        json={"key": "pk_test_localstripe", "use_stripe_sdk": True, "client_secret": secret},
        timeout=5,
    ).json()
    assert passed["status"] == "succeeded"

    with billing.capture(execute=True):
        client.post(_url(invoice), {"setup_intent": setup["id"]})

    assert Invoice.objects.get(pk=invoice.pk).status == "settled"
    assert not Attempt.objects.filter(transaction__invoice=invoice, code="authentication_required").exists()
