"""The local Stripe server's Connect onboarding, over HTTP with stripe-python, as payouts
uses it: accounts that start unpayable, account links to a local onboarding page that
completes them or leaves a requirement due, and `account.updated` events."""

import urllib.request

import pytest
import stripe

KEY = "sk_test_localstripe"
RETURN, REFRESH = "http://127.0.0.1:9/return/", "http://127.0.0.1:9/refresh/"


@pytest.fixture
def account(stripe_server):
    stripe.api_base = stripe_server.url
    return stripe.Account.create(type="express", email="seller@example.com", api_key=KEY)


def _link(account_id):
    return stripe.AccountLink.create(
        account=account_id, refresh_url=REFRESH, return_url=RETURN, type="account_onboarding", api_key=KEY
    )


def _updates(account_id):
    return [
        e.data.object
        for e in stripe.Event.list(type="account.updated", limit=100, api_key=KEY).auto_paging_iter()
        if e.data.object["id"] == account_id
    ]


def test_a_new_account_cannot_be_paid_until_onboarding_is_done(account):
    assert account.payouts_enabled is False and account.details_submitted is False
    assert "external_account" in account.requirements.currently_due
    assert account.requirements.disabled_reason == "requirements.past_due"


def test_completing_the_onboarding_page_makes_the_account_payable_and_sends_account_updated(
    stripe_server, account
):
    link = _link(account.id)
    assert link.object == "account_link" and link.url.startswith(stripe_server.url + "/connect/onboarding/")
    assert link.expires_at - link.created == 300
    page = urllib.request.urlopen(link.url, timeout=5).read().decode()
    assert "seller@example.com" in page and "individual.verification.document" in page

    assert stripe_server.onboard(_link(account.id).url, "complete") == RETURN

    read = stripe.Account.retrieve(account.id, api_key=KEY)
    assert read.payouts_enabled is True and read.details_submitted is True
    assert read.requirements.currently_due == [] and read.requirements.disabled_reason is None
    [event] = _updates(account.id)
    assert event["payouts_enabled"] is True


def test_leaving_the_id_document_due_keeps_the_account_unpayable(stripe_server, account):
    assert stripe_server.onboard(_link(account.id).url, "partial") == RETURN
    read = stripe.Account.retrieve(account.id, api_key=KEY)
    assert read.details_submitted is True and read.payouts_enabled is False
    assert read.requirements.currently_due == ["individual.verification.document"]
    assert _updates(account.id)[0]["requirements"]["currently_due"] == ["individual.verification.document"]


def test_going_back_without_submitting_changes_nothing_and_sends_no_event(stripe_server, account):
    assert stripe_server.onboard(_link(account.id).url, "back") == RETURN
    assert stripe.Account.retrieve(account.id, api_key=KEY).details_submitted is False
    assert _updates(account.id) == []


def test_a_used_link_sends_the_browser_to_the_refresh_url(stripe_server, account):
    link = _link(account.id)
    stripe_server.onboard(link.url, "partial")
    with pytest.raises(urllib.error.HTTPError) as refused:
        # urllib follows the redirect to the refresh URL, where nothing listens here.
        urllib.request.build_opener(_NoRedirect).open(link.url, timeout=5)
    assert refused.value.code == 302 and refused.value.headers["Location"] == REFRESH


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.parametrize(
    "params, message",
    [
        ({"account": "acct_nope"}, "No such account"),
        ({"return_url": "/relative/"}, "absolute"),
        ({"type": "custom_thing"}, "Invalid type"),
    ],
)
def test_an_account_link_with_bad_parameters_is_refused(account, params, message):
    data = {"account": account.id, "refresh_url": REFRESH, "return_url": RETURN, "type": "account_onboarding"}
    with pytest.raises(stripe.InvalidRequestError, match=message):
        stripe.AccountLink.create(**{**data, **params}, api_key=KEY)


def test_events_are_listed_newest_first_as_stripe_lists_them(stripe_server):
    stripe.api_base = stripe_server.url
    first = stripe.Account.create(type="express", email="first@example.com", api_key=KEY)
    second = stripe.Account.create(type="express", email="second@example.com", api_key=KEY)
    stripe_server.onboard(_link(first.id).url, "complete")
    stripe_server.onboard(_link(second.id).url, "complete")
    newest, before = stripe.Event.list(type="account.updated", limit=2, api_key=KEY).data
    assert (newest.data.object["id"], before.data.object["id"]) == (second.id, first.id)
    assert newest.created >= before.created
