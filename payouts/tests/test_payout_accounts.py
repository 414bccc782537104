"""A seller sets up where their money goes (bank details or Stripe Connect), and payout
runs pay only sellers who can be paid: bad details are refused with a clear message, a
change needs the password, emails the seller and holds payouts for the cooling-off period,
and the ledger holds throughout."""

from datetime import date, timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts.tests.factories import SellerFactory
from marketplace.exceptions import ApplicationError
from payouts import bank_details, payout_accounts, services
from payouts.ledger import ledger_check
from payouts.models import Payout, PayoutAccount, PayoutDetailsChange
from payouts.payability import Block, seller_payability
from payouts.payout_status import seller_payout_status
from stripe_integration.webhooks import webhook_event_apply

from .conftest import utc
from .factories import PayoutAccountFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
IBAN = {"scheme": "iban", "holder_name": "Sam Seller", "iban": "DE89 3704 0044 0532 0130 00"}
NEW_IBAN = {"scheme": "iban", "holder_name": "Sam Seller", "iban": "GB29 NWBK 6016 1331 9268 19"}
URL = "/seller/payouts/account/"


@pytest.fixture
def seller():
    seller = SellerFactory()
    seller.set_password(PASSWORD)
    seller.save()
    return seller


def _post_bank(client, **data):
    return client.post("/seller/payouts/account/bank/", {"bank_scheme": "iban", "holder_name": "Sam", **data})


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"iban": "DE89 3704 0044 0532 0130 01"}, "iban", bank_details.IBAN_CHECKSUM),
        ({"iban": "DE89 3704 0044 0532 0130"}, "iban", "wrong number of characters for DE"),
        ({"iban": "XX89 3704 0044 0532 0130 00"}, "iban", bank_details.IBAN_COUNTRY),
        ({"iban": ""}, "iban", bank_details.IBAN_MISSING),
        ({"iban": "DE89370400440532013000", "holder_name": " "}, "holder_name", bank_details.HOLDER_MISSING),
        (
            {"iban": "DE89370400440532013000", "holder_name": '=HYPERLINK("http://x.test","Sam")'},
            "holder_name",
            bank_details.HOLDER_FORMULA,
        ),
        (
            {"iban": "DE89370400440532013000", "holder_name": " @SUM(1+1)"},
            "holder_name",
            bank_details.HOLDER_FORMULA,
        ),
        (
            {"iban": "DE89370400440532013000", "holder_name": "\t-1+1"},
            "holder_name",
            bank_details.HOLDER_FORMULA,
        ),
        (
            {"iban": "DE89370400440532013000", "holder_name": "\r+1"},
            "holder_name",
            bank_details.HOLDER_FORMULA,
        ),
        ({"iban": "DE89370400440532013000", "bic": "NOTABIC!"}, "bic", bank_details.BIC_INVALID),
        ({"iban": "FR1420041010050500013M02606", "bic": "DEUTDEFF"}, "bic", "belongs to a bank in DE"),
        ({"iban": "SA0380000000608010167519"}, "bic", "payments to SA need it"),
        (
            {"bank_scheme": "us_aba", "routing_number": "011000016", "account_number": "123456789"},
            "routing_number",
            bank_details.ROUTING_CHECKSUM,
        ),
        (
            {"bank_scheme": "us_aba", "routing_number": "01100001", "account_number": "123456789"},
            "routing_number",
            bank_details.ROUTING_FORMAT,
        ),
        (
            {"bank_scheme": "us_aba", "routing_number": "011000015", "account_number": "12"},
            "account_number",
            bank_details.ACCOUNT_FORMAT,
        ),
        (  # digits of other scripts, which str.isdigit() accepts
            {"bank_scheme": "us_aba", "routing_number": "011000015", "account_number": "1234²５６"},
            "account_number",
            bank_details.ACCOUNT_FORMAT,
        ),
        (
            {"bank_scheme": "us_aba", "routing_number": "０11000015", "account_number": "123456789"},
            "routing_number",
            bank_details.ROUTING_FORMAT,
        ),
    ],
)
def test_invalid_bank_details_are_refused_with_a_clear_message_and_change_nothing(
    client, seller, data, field, message
):
    client.force_login(seller)
    response = _post_bank(client, **data)
    assert response.status_code == 400
    assert message in " ".join(response.context["bank_form"].errors[field])
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not PayoutAccount.objects.filter(seller=seller).exclude(provider="").exists()
    assert mail.outbox == []


def test_valid_details_in_any_layout_are_stored_compact_and_shown_masked(client, seller):
    client.force_login(seller)
    response = _post_bank(client, iban="de89 3704-0044 0532 0130 00")
    assert response.status_code == 302
    account = PayoutAccount.objects.get(seller=seller)
    assert (account.iban, account.bic) == ("DE89370400440532013000", "COBADEFFXXX")  # BIC from the IBAN
    page = client.get(URL).content.decode()
    assert "DE•• •••• 3000" in page and "0532 0130" not in page and "DE89370400440532013000" not in page
    assert "You&#x27;re set up to get paid" in page


def test_a_us_account_is_checked_with_the_aba_checksum_and_masked(client, seller):
    client.force_login(seller)
    _post_bank(client, bank_scheme="us_aba", routing_number="011000015", account_number="000123456789")
    account = PayoutAccount.objects.get(seller=seller)
    assert account.bank_details_masked == "Routing 011000015 · account ••••6789"
    assert seller_payability(seller_id=seller.pk, payout_date=date(2027, 1, 15)).payable


def test_the_payouts_page_shows_a_banner_until_the_seller_is_set_up(client, seller):
    client.force_login(seller)
    page = client.get("/seller/payouts/").content.decode()
    assert "Set up how you get paid" in page and URL in page
    _post_bank(client, iban=IBAN["iban"])
    page = client.get("/seller/payouts/").content.decode()
    assert "Set up how you get paid" not in page and URL in page


def test_first_details_need_no_password_and_start_no_cooling_off_but_the_seller_is_emailed(
    seller, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        payout_accounts.payout_account_bank_details_set(seller=seller, password="", details=IBAN)
    account = PayoutAccount.objects.get(seller=seller)
    assert account.cooling_off_through is None
    [email] = mail.outbox
    assert email.to == [seller.email] and "DE•• •••• 3000" in email.body and "held" not in email.body
    assert PayoutDetailsChange.objects.get(account=account).changed_by == seller


def test_changing_details_needs_the_password(client, seller):
    payout_accounts.payout_account_bank_details_set(seller=seller, password="", details=IBAN)
    client.force_login(seller)
    response = _post_bank(client, iban=NEW_IBAN["iban"], password="wrong")
    assert response.status_code == 400
    assert payout_accounts.WRONG_PASSWORD in response.content.decode().replace("&#x27;", "'")
    assert PayoutAccount.objects.get(seller=seller).iban == "DE89370400440532013000"
    assert PayoutAccount.objects.get(seller=seller).cooling_off_through is None


def test_changing_details_holds_the_next_payout_emails_the_seller_and_pays_on_the_first_date_after(
    payouts, seller, django_capture_on_commit_callbacks
):
    payouts.configure(cooling_off_days=3)
    with time_machine.travel(utc(2026, 12, 1, 9), tick=False):
        payout_accounts.payout_account_bank_details_set(seller=seller, password="", details=IBAN)
    payouts.complete(at=utc(2027, 1, 2, 10), seller=seller, amount=10_000)  # available Jan 9
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller, amount=5_000)
    payouts.run(date(2027, 1, 15))
    [built] = payouts.payouts(seller=seller)
    assert built.status == Payout.Status.SCHEDULED and built.amount == 13_500
    mail.outbox.clear()

    # Someone with the seller's password changes the details on Jan 15, after that
    # date's payout was built for the old details and before the bank file was sent ...
    with time_machine.travel(utc(2027, 1, 15, 9), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            payout_accounts.payout_account_bank_details_set(
                seller=seller, password=PASSWORD, details=NEW_IBAN
            )
    account = PayoutAccount.objects.get(seller=seller)
    assert account.cooling_off_through == date(2027, 1, 18)
    built = Payout.objects.get(pk=built.pk)
    assert built.status == Payout.Status.CANCELED and "changed where their money goes" in built.failure_reason
    [email] = mail.outbox
    assert email.to == [seller.email] and email.subject == "Your payout details were changed"
    assert "GB•• •••• 6819" in email.body and "18 Jan 2027" in email.body
    assert "If you did not make this change" in email.body
    assert ledger_check() == []
    with time_machine.travel(utc(2027, 1, 15, 10), tick=False):
        status = seller_payout_status(seller=seller)
    assert status.block == Block.COOLING_OFF and status.resumes_on == date(2027, 2, 1)

    # ... the held seller is skipped on the next date inside the hold, and paid on the
    # first payout date after it ends.
    payouts.configure(schedule="daily")
    report = payouts.run(date(2027, 1, 18))
    assert report.on_hold == 1 and payouts.payouts(seller=seller, payout_date=date(2027, 1, 18)) == []
    assert ledger_check() == []
    payouts.run(date(2027, 1, 19))
    [paid] = payouts.payouts(seller=seller, payout_date=date(2027, 1, 19))
    assert paid.amount == 13_500 and paid.provider == "manual"
    assert ledger_check() == []


def test_saving_the_same_details_again_is_no_change(seller):
    payout_accounts.payout_account_bank_details_set(seller=seller, password="", details=IBAN)
    payout_accounts.payout_account_bank_details_set(seller=seller, password=PASSWORD, details=IBAN)
    assert PayoutAccount.objects.get(seller=seller).cooling_off_through is None
    assert PayoutDetailsChange.objects.count() == 1


def test_a_run_carries_forward_the_balance_of_a_seller_with_no_payout_account(payouts, client):
    unset = SellerFactory()
    payouts.complete(at=utc(2027, 1, 5, 10), seller=unset)
    report = payouts.run(date(2027, 1, 15))
    assert (report.payouts, report.on_hold) == (0, 1)
    client.force_login(unset)
    page = client.get("/seller/payouts/").content.decode()
    assert "Set up how you get paid" in page and "Once you can be paid" in page
    PayoutAccount.objects.create(seller=unset)  # chose nothing yet: still waiting
    assert payouts.run(date(2027, 2, 1)).payouts == 0
    # Money is waiting, so even a first setup needs the password (and cools off).
    unset.set_password(PASSWORD)
    unset.save()
    payout_accounts.payout_account_bank_details_set(seller=unset, password=PASSWORD, details=IBAN)
    payouts.run(date(2027, 2, 15))
    assert [p.amount for p in payouts.payouts(seller=unset)] == [9_000]
    assert ledger_check() == []


def test_a_seller_whose_way_of_being_paid_is_no_longer_offered_waits(payouts):
    seller = payouts.seller()  # bank transfer
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller)
    payouts.configure(provider="stripe_connect")
    assert payouts.run(date(2027, 1, 15)).on_hold == 1
    assert (
        seller_payability(seller_id=seller.pk, payout_date=date(2027, 1, 15)).block
        == Block.PROVIDER_NOT_OFFERED
    )
    payouts.configure(provider="either")
    assert payouts.run(date(2027, 2, 1)).payouts == 1


def test_the_bank_file_leaves_out_and_cancels_a_payout_whose_seller_cannot_be_paid_now(payouts, admin_user):
    seller = payouts.seller()
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller)
    payouts.run(date(2027, 1, 15))
    [payout] = payouts.payouts()
    # The details changed after the payout was built, without the account's lock (an
    # admin restoring a backup, say): the export checks again and holds it.
    PayoutAccount.objects.filter(seller=seller).update(cooling_off_through=date(2099, 1, 1))
    export = services.payouts_export_csv(payout_ids=[payout.pk], by=admin_user)
    assert export.exported == 0 and export.csv.count("\n") == 1
    assert "cooling-off" in export.left_out[0]
    assert Payout.objects.get().status == Payout.Status.CANCELED
    assert ledger_check() == []


def test_staff_see_sellers_with_money_waiting_and_why(payouts, admin_client):
    ready, unset, held = payouts.seller(), SellerFactory(), payouts.seller()
    PayoutAccount.objects.filter(seller=held).update(on_hold=True, hold_reason="Identity check")
    for seller in (ready, unset, held):  # available weeks ago, not paid yet
        payouts.complete(at=timezone.now() - timedelta(days=30), seller=seller, amount=10_000, currency="EUR")
    page = admin_client.get("/admin/payouts/sellermoneywaiting/").content.decode()
    only_unset = admin_client.get("/admin/payouts/sellermoneywaiting/?why=not_set_up").content.decode()
    assert unset.email in page and held.email in page and ready.email in page
    assert (
        "€90.00" in page
        and "Has not set up how to be paid" in page
        and "Held by staff (Identity check)" in page
    )
    assert unset.email in only_unset and held.email not in only_unset and ready.email not in only_unset


def test_a_seller_below_zero_is_shown_as_owing_the_platform_not_as_money_waiting(
    payouts, admin_client, admin_user
):
    owing = payouts.seller()
    order = payouts.complete(at=utc(2027, 1, 1, 10), seller=owing, amount=10_000, currency="EUR")
    payouts.run(date(2027, 1, 15))
    payouts.refund(order, at=utc(2027, 1, 16, 9))
    with time_machine.travel(utc(2027, 1, 20, 12)):
        admin_client.force_login(admin_user)
        page = admin_client.get("/admin/payouts/sellermoneywaiting/").content.decode()
    row = page[page.index(owing.email) :]
    row = row[: row.index("</tr>")]
    assert "Owes the platform €90.00" in row and "-€90.00" not in row
    assert "Nothing holds it" not in row
    assert "netted off from their next earnings" in row


# --- Stripe Connect ----------------------------------------------------------------------


def _to_stripe(response) -> str:
    """The onboarding link of the "Taking you to Stripe" page (it moves on by itself)."""
    assert response.status_code == 200, response.content
    url = response.context["url"]
    assert "/connect/onboarding/" in url and f'content="0;url={url}"' in response.content.decode()
    return url


@pytest.fixture
def stripe_offered(payouts, stripe_server):
    stripe_server.flush()
    payouts.configure(provider="either")
    return stripe_server


def test_stripe_onboarding_sends_the_seller_to_stripe_and_back_to_set_up_to_get_paid(
    client, seller, stripe_offered, settings
):
    # Behind the TLS proxy the request reaches the site as plain http; Stripe must send the
    # seller back to the public https address all the same.
    settings.SITE_URL = "https://market.example.com"
    client.force_login(seller)
    link = _to_stripe(client.post("/seller/payouts/account/stripe/"))
    account = PayoutAccount.objects.get(seller=seller)
    assert account.provider == "stripe_connect" and account.stripe_account_id.startswith("acct_")
    back = stripe_offered.onboard(link, "complete")
    assert back == "https://market.example.com/seller/payouts/account/stripe/return/"
    page = client.get(back.removeprefix(settings.SITE_URL), follow=True).content.decode()
    assert "You&#x27;re set up to get paid" in page
    assert PayoutAccount.objects.get(seller=seller).stripe_payouts_enabled


def test_a_requirement_left_due_is_shown_in_plain_words_with_a_button_to_continue(
    client, seller, stripe_offered
):
    client.force_login(seller)
    link = _to_stripe(client.post("/seller/payouts/account/stripe/"))
    page = client.get(stripe_offered.onboard(link, "partial"), follow=True).content.decode()
    assert "Stripe needs something more before it can pay you" in page
    assert "a photo of your ID document" in page and "Continue with Stripe" in page
    # The button (and Stripe's refresh URL) makes a new link; the old one is used up.
    again = client.get("/seller/payouts/account/stripe/continue/")
    assert again.status_code == 302 and "/connect/onboarding/" in again.url and again.url != link
    assert (
        seller_payability(seller_id=seller.pk, payout_date=date(2027, 1, 15)).block == Block.STRIPE_NOT_READY
    )


def test_a_run_skips_a_seller_stripe_cannot_pay_until_account_updated_says_it_can(payouts, stripe_offered):
    seller = payouts.stripe_seller(stripe_offered, complete=False)
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller)
    assert payouts.run(date(2027, 1, 15)).on_hold == 1
    account = PayoutAccount.objects.get(seller=seller)
    link = payout_accounts.payout_account_stripe_link(seller=seller)
    stripe_offered.onboard(link, "complete")
    # Stripe tells the platform with account.updated; its copy is read again from Stripe.
    event = {"type": "account.updated", "data": {"object": {"id": account.stripe_account_id}}}
    assert webhook_event_apply(event) == f"seller #{seller.pk}: payouts enabled; due: nothing"
    payouts.run(date(2027, 2, 1))
    [payout] = payouts.payouts(seller=seller)
    assert payout.provider == "stripe_connect" and payout.amount == 9_000
    assert ledger_check() == []


def test_account_updated_for_an_account_that_is_not_a_sellers_is_ignored(stripe_offered):
    event = {"type": "account.updated", "data": {"object": {"id": "acct_someoneelse"}}}
    assert webhook_event_apply(event) == "ignored: not a seller's connected account"


def test_switching_from_bank_details_to_stripe_needs_the_password_and_starts_the_cooling_off(
    client, seller, stripe_offered
):
    payout_accounts.payout_account_bank_details_set(seller=seller, password="", details=IBAN)
    client.force_login(seller)
    refused = client.post("/seller/payouts/account/stripe/", {"password": "nope"})
    assert refused.status_code == 400 and PayoutAccount.objects.get(seller=seller).provider == "manual"
    mail.outbox.clear()
    _to_stripe(client.post("/seller/payouts/account/stripe/", {"password": PASSWORD}))
    account = PayoutAccount.objects.get(seller=seller)
    assert account.provider == "stripe_connect" and account.cooling_off_through is not None


def test_stripe_not_answering_changes_nothing_and_says_so(client, seller, stripe_offered, monkeypatch):
    monkeypatch.setattr("stripe_integration.client.sleep", lambda seconds: None)
    client.force_login(seller)
    stripe_offered.fail_next(10, status=503, path="/v1/accounts")
    page = client.post("/seller/payouts/account/stripe/", follow=True).content.decode()
    assert "Stripe did not answer just now" in page
    assert not PayoutAccount.objects.filter(seller=seller).exists()


def test_wrong_passwords_on_the_bank_details_form_have_their_own_limit_then_a_pause(client, seller, settings):
    payout_accounts.payout_account_bank_details_set(seller=seller, password="", details=IBAN)
    client.force_login(seller)
    limit = settings.PAYOUT_PASSWORD_FAILURE_LIMIT
    for _ in range(limit - 1):
        refused = _post_bank(client, iban=NEW_IBAN["iban"], password="guess")
        assert refused.status_code == 400 and payout_accounts.WRONG_PASSWORD in refused.content.decode()
    paused = _post_bank(client, iban=NEW_IBAN["iban"], password="guess")
    assert paused.status_code == 429
    message = payout_accounts.PASSWORD_PAUSED.format(
        limit=limit, minutes=settings.PAYOUT_PASSWORD_PAUSE_MINUTES
    )
    assert message in paused.content.decode()
    # Paused: even the right password changes nothing until the pause ends.
    assert _post_bank(client, iban=NEW_IBAN["iban"], password=PASSWORD).status_code == 429
    assert PayoutAccount.objects.get(seller=seller).iban == "DE89370400440532013000"
    # Its own limit: signing in is not paused by it.
    client.logout()
    signed_in = client.post("/accounts/login/", {"username": seller.email, "password": PASSWORD})
    assert signed_in.status_code == 302
    later = timezone.now() + timedelta(minutes=settings.PAYOUT_PASSWORD_PAUSE_MINUTES + 1)
    with time_machine.travel(later):
        assert _post_bank(client, iban=NEW_IBAN["iban"], password=PASSWORD).status_code == 302
    assert PayoutAccount.objects.get(seller=seller).iban == "GB29NWBK60161331926819"


def test_the_password_and_bank_numbers_typed_never_land_in_the_sign_in_records_or_the_logs(
    client, seller, caplog
):
    from axes.models import AccessAttempt, AccessFailureLog

    payout_accounts.payout_account_bank_details_set(seller=seller, password="", details=IBAN)
    client.force_login(seller)
    typed = "Hunter2-my-guess"
    with caplog.at_level("DEBUG"):
        _post_bank(client, iban=NEW_IBAN["iban"], password=typed)
        client.post("/seller/payouts/account/stripe/", {"password": typed})
    stored = " ".join(
        [f"{a.get_data} {a.post_data}" for a in AccessAttempt.objects.all()]
        + [str(vars(f)) for f in AccessFailureLog.objects.all()]
    )
    for secret in (typed, "GB29", "NWBK 6016"):
        assert secret not in stored and secret not in caplog.text


def test_staff_see_a_payout_account_masked_with_its_change_log_and_cannot_edit_the_details(
    admin_client, seller
):
    payout_accounts.payout_account_bank_details_set(seller=seller, password="", details=IBAN)
    payout_accounts.payout_account_bank_details_set(seller=seller, password=PASSWORD, details=NEW_IBAN)
    account = PayoutAccount.objects.get(seller=seller)
    page = admin_client.get(f"/admin/payouts/payoutaccount/{account.pk}/change/").content.decode()
    assert "GB•• •••• 6819" in page and "GB29NWBK60161331926819" not in page
    assert "(was: DE•• •••• 3000 · BIC COBADEFFXXX)" in page  # the change log
    assert "Cooling off through" in page and "Can be paid on the next payout date" in page
    assert 'name="iban"' not in page and 'name="on_hold"' in page
    listing = admin_client.get("/admin/payouts/payoutaccount/").content.decode()
    assert "GB•• •••• 6819" in listing


def test_sync_connected_accounts_reads_accounts_staff_typed_in_before_sellers_onboarded(
    payouts, stripe_offered, monkeypatch
):
    from io import StringIO

    from django.core.management import call_command

    # An account made the old way: its id typed into the admin, never read from Stripe.
    seller = payouts.stripe_seller(stripe_offered)
    PayoutAccount.objects.filter(seller=seller).update(stripe_payouts_enabled=False, stripe_checked_at=None)
    assert (
        seller_payability(seller_id=seller.pk, payout_date=date(2027, 1, 15)).block == Block.STRIPE_NOT_READY
    )
    out = StringIO()
    call_command("sync_connected_accounts", stdout=out)
    assert "Read 1 connected account(s)" in out.getvalue()
    assert seller_payability(seller_id=seller.pk, payout_date=date(2027, 1, 15)).payable

    monkeypatch.setattr("stripe_integration.client.sleep", lambda seconds: None)
    stripe_offered.fail_next(10, status=503, path="/v1/accounts")
    err = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("sync_connected_accounts", stdout=StringIO(), stderr=err)
    assert exited.value.code == 1
    assert PayoutAccount.objects.get(seller=seller).stripe_account_id in err.getvalue()


def _rows(export) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(export.csv)))[1:]


def test_a_payout_sent_to_the_bank_is_never_exported_again_to_details_changed_since(
    payouts, seller, admin_user
):
    PayoutAccountFactory(seller=seller, holder_name="Sam Seller")
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller)
    payouts.run(date(2027, 1, 15))
    [payout] = payouts.payouts()
    first = services.payouts_export_csv(payout_ids=[payout.pk], by=admin_user)
    assert [row[3:6] for row in _rows(first)] == [["Sam Seller", "DE89370400440532013000", "COBADEFFXXX"]]

    # Someone with the seller's password points the money elsewhere after the bank file
    # was made: the payout already handed to the bank is not theirs to redirect ...
    payout_accounts.payout_account_bank_details_set(seller=seller, password=PASSWORD, details=NEW_IBAN)
    again = services.payouts_export_csv(payout_ids=[payout.pk], by=admin_user)
    assert again.exported == 0 and _rows(again) == []
    [why] = again.left_out
    assert why.startswith(f"Payout #{payout.pk} is already in a bank file (exported on ")
    assert "so the bank cannot pay it twice" in why and "Export again for the bank (duplicate file)" in why

    # ... and a duplicate file staff ask for names the account of the first file.
    duplicate = services.payouts_export_csv(payout_ids=[payout.pk], by=admin_user, again=True)
    assert duplicate.left_out == []
    assert [row[3:6] for row in _rows(duplicate)] == [["Sam Seller", "DE89370400440532013000", "COBADEFFXXX"]]
    payout = Payout.objects.get(pk=payout.pk)
    assert payout.status == Payout.Status.PROCESSING and payout.export_count == 2
    assert payout.destination_masked == "DE•• •••• 3000 · BIC COBADEFFXXX"
    assert ledger_check() == []


def test_with_no_cooling_off_a_bank_payout_built_before_the_seller_moved_to_stripe_is_not_exported(
    payouts, seller, stripe_offered, admin_user
):
    payouts.configure(cooling_off_days=0)
    PayoutAccountFactory(seller=seller)
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller)
    payouts.run(date(2027, 1, 15))
    [payout] = payouts.payouts()
    payout_accounts.payout_account_stripe_onboarding_start(seller=seller, password=PASSWORD)
    payout = Payout.objects.get(pk=payout.pk)
    assert (
        payout.status == Payout.Status.CANCELED and "changed where their money goes" in payout.failure_reason
    )
    export = services.payouts_export_csv(payout_ids=[payout.pk], by=admin_user)
    assert export.exported == 0 and "DE89370400440532013000" not in export.csv
    assert ledger_check() == []


def test_the_bank_file_checks_the_payout_is_still_paid_the_way_the_seller_chose(payouts, admin_user):
    seller = payouts.seller()
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller)
    payouts.run(date(2027, 1, 15))
    [payout] = payouts.payouts()
    # Moved to Stripe Connect without the account's lock (restored from a backup, say).
    PayoutAccount.objects.filter(seller=seller).update(
        provider="stripe_connect", stripe_account_id="acct_new", stripe_payouts_enabled=True
    )
    payouts.configure(provider="either")
    export = services.payouts_export_csv(payout_ids=[payout.pk], by=admin_user)
    assert export.exported == 0 and "DE89370400440532013000" not in export.csv
    assert export.left_out == [
        f"Payout #{payout.pk} ({seller.email}) was canceled, its money back in the balance: "
        "now paid another way than this payout's."
    ]
    assert Payout.objects.get().status == Payout.Status.CANCELED
    assert ledger_check() == []


def test_with_no_cooling_off_a_stripe_payout_built_before_the_seller_moved_to_a_bank_is_not_sent(
    payouts, stripe_offered
):
    payouts.configure(cooling_off_days=0)
    seller = payouts.stripe_seller(stripe_offered)
    seller.set_password(PASSWORD)
    seller.save()
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller)
    payouts.run(date(2027, 1, 15))  # built; sent after commit, which this test holds back
    [payout] = payouts.payouts()
    assert payout.status == Payout.Status.SCHEDULED
    payout_accounts.payout_account_bank_details_set(seller=seller, password=PASSWORD, details=IBAN)
    assert services.payouts_submit(payout_date=date(2027, 1, 15)) == 0
    assert Payout.objects.get().status == Payout.Status.CANCELED
    assert ledger_check() == []


def test_a_stripe_payout_is_not_sent_once_the_seller_is_paid_by_bank_transfer(payouts, stripe_offered):
    seller = payouts.stripe_seller(stripe_offered)
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller)
    payouts.run(date(2027, 1, 15))
    [payout] = payouts.payouts()
    PayoutAccount.objects.filter(seller=seller).update(
        provider="manual", bank_scheme="iban", holder_name="Sam", iban="DE89370400440532013000"
    )
    services.payout_submit_to_stripe(payout_id=payout.pk)
    payout = Payout.objects.get()
    assert payout.status == Payout.Status.CANCELED and payout.provider_reference == ""
    assert "now paid another way than this payout's" in payout.failure_reason
    assert ledger_check() == []


def test_an_account_with_a_change_log_or_money_waiting_needs_the_password_and_cools_off(payouts, seller):
    # Upgraded from details staff typed: no way chosen yet, the typed text in the log.
    account = PayoutAccount.objects.create(seller=seller)
    PayoutDetailsChange.objects.create(account=account, description="Bank details typed by staff: ••••3000")
    with pytest.raises(ApplicationError, match="That is not your password"):
        payout_accounts.payout_account_bank_details_set(seller=seller, password="", details=NEW_IBAN)
    assert PayoutAccount.objects.get(seller=seller).provider == ""
    account = payout_accounts.payout_account_bank_details_set(
        seller=seller, password=PASSWORD, details=NEW_IBAN
    )
    assert account.cooling_off_through is not None

    # A seller who never set anything up, with money waiting: the same.
    payouts.configure(provider="either")
    newcomer = SellerFactory()
    payouts.complete(at=utc(2027, 1, 5, 10), seller=newcomer)
    with pytest.raises(ApplicationError, match="That is not your password"):
        payout_accounts.payout_account_bank_details_set(seller=newcomer, password="", details=NEW_IBAN)
    with pytest.raises(ApplicationError, match="That is not your password"):
        payout_accounts.payout_account_stripe_onboarding_start(seller=newcomer, password="")
    assert not PayoutAccount.objects.filter(seller=newcomer).exclude(provider="").exists()


def test_the_settings_page_asks_for_the_password_when_money_is_waiting(client, payouts, seller):
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller)
    client.force_login(seller)
    assert 'name="password"' in client.get(URL).content.decode()
    response = _post_bank(client, iban=NEW_IBAN["iban"])
    assert response.status_code == 400
    assert not PayoutAccount.objects.filter(seller=seller).exclude(provider="").exists()


def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_escaped_in_the_bank_file(payouts, admin_user):
    # A name stored before such names were refused.
    seller = payouts.seller(email="=cmd@example.com")
    PayoutAccount.objects.filter(seller=seller).update(holder_name='=HYPERLINK("http://x.test","Sam")')
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller)
    payouts.run(date(2027, 1, 15))
    [payout] = payouts.payouts()
    [row] = _rows(services.payouts_export_csv(payout_ids=[payout.pk], by=admin_user))
    assert row[2:4] == ["'=cmd@example.com", '\'=HYPERLINK("http://x.test","Sam")']
    assert row[4:7] == ["DE89370400440532013000", "COBADEFFXXX", "90.00"]
