"""`manage.py reconcile_stripe` over HTTP against the suite's localstripe: each kind of
drift injected by hand is reported, a clean state reports nothing, and beat's daily run
stores a report staff see in the admin.

The localstripe server is shared by the whole session: these tests only pass if objects
made by other tests (other idempotency namespaces, other connected accounts) are left out."""

import json
from datetime import date, timedelta
from io import StringIO

import pytest
import stripe
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from billing import services as billing_services
from billing.models import Attempt, Transaction
from billing.tests.conftest import Billing
from marketplace.models import ReconciliationReport
from marketplace.periodic import periodic_task_specs
from marketplace.reconciliation import SINCE_IN_FUTURE, SINCE_MALFORMED
from marketplace.tasks import reconcile_stripe as reconcile_task
from payouts.models import Payout, PayoutAccount
from payouts.tests.conftest import Payouts, utc
from stripe_integration import connect as stripe_connect

pytestmark = pytest.mark.django_db


@pytest.fixture
def billing(stripe_server, django_capture_on_commit_callbacks):
    return Billing(stripe_server, django_capture_on_commit_callbacks)


@pytest.fixture
def paid_invoice(billing):
    invoice = billing.invoice(billing.customer(card="4242424242424242"), amount=5000)
    assert invoice.status == "settled"
    return invoice


@pytest.fixture
def paid_payout(stripe_server, django_capture_on_commit_callbacks):
    """A payout sent over Stripe Connect to a seller's connected account (made with this
    test's idempotency namespace, so the account is this test's alone)."""
    payouts = Payouts()
    payouts.configure(provider="stripe_connect")
    seller = payouts.stripe_seller(stripe_server)
    payouts.complete(at=utc(2027, 1, 5, 10), seller=seller, amount=10_000)
    with django_capture_on_commit_callbacks(execute=True):
        payouts.run(date(2027, 1, 15))
    payout = Payout.objects.get(seller=seller)
    assert payout.status == Payout.Status.PAID
    return payout


def reconcile(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command("reconcile_stripe", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def differences(*args):
    code, out, _ = reconcile("--json", *args)
    return code, json.loads(out)["differences"]


def _charge(invoice) -> Transaction:
    return Transaction.objects.get(invoice=invoice, kind="charge", status="done")


def test_a_clean_state_reports_nothing_and_exits_0(
    paid_invoice, paid_payout, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        billing_services.invoice_refund(invoice_id=paid_invoice.pk, amount=1000, reason="Late")
    code, out, err = reconcile()
    assert (code, err) == (0, "")
    assert "No differences." in out
    assert "1 payment intents, 1 refunds, 1 transfers" in out


def test_each_run_of_the_command_is_stored_for_staff_with_its_output_and_exit_code_unchanged(
    paid_invoice, admin_client
):
    code, out, err = reconcile()
    assert (code, err) == (0, "") and "No differences." in out
    clean = ReconciliationReport.objects.get()
    assert (clean.difference_count, clean.differences) == (0, [])
    Transaction.objects.filter(invoice=paid_invoice, kind="charge").update(amount=4_900)
    code, out, err = reconcile()
    assert code == 1 and "[amount differs] payment: Charge transaction" in out
    assert out.strip().endswith("1 difference(s).")
    latest = ReconciliationReport.objects.first()  # newest first
    assert latest.pk != clean.pk and latest.difference_count == 1
    assert latest.since == timezone.localdate() - timedelta(days=35)
    listing = admin_client.get("/admin/marketplace/reconciliationreport/").content.decode()
    assert listing.index("1 difference<") < listing.index("None: Stripe matches")
    page = admin_client.get(f"/admin/marketplace/reconciliationreport/{latest.pk}/change/").content.decode()
    assert "[amount differs] payment: Charge transaction" in page and 'name="_save"' not in page


def test_a_refund_made_only_at_stripe_is_missing_locally(paid_invoice):
    pi = _charge(paid_invoice).stripe_id
    stripe.api_base = settings.STRIPE_API_BASE
    refund = stripe.Refund.create(payment_intent=pi, amount=1200, api_key=settings.STRIPE_SECRET_KEY)
    code, found = differences()
    assert code == 1
    assert [(d["kind"], d["object_type"], d["stripe_ids"]) for d in found] == [
        ("missing_locally", "refund", [refund["id"], pi])
    ]
    assert "$12.00" in found[0]["message"] and found[0]["kind_label"] == "missing locally"


def test_a_second_transfer_for_one_payout_is_reported(paid_payout):
    account = PayoutAccount.objects.get(seller=paid_payout.seller).stripe_account_id
    second = stripe_connect.transfer_create(
        destination=account,
        amount=9_000,
        currency="USD",
        transfer_group=paid_payout.transfer_group,
        idempotency_key=f"{settings.STRIPE_IDEMPOTENCY_NAMESPACE}:by-hand",
        metadata={"payout_id": str(paid_payout.pk), "payout_date": "2027-01-15"},
    )
    code, found = differences()
    assert code == 1
    assert [(d["kind"], d["record"]) for d in found] == [
        ("duplicate_transfer", f"Payout #{paid_payout.pk} (2027-01-15, seller #{paid_payout.seller_id})")
    ]
    assert set(found[0]["stripe_ids"]) == {paid_payout.provider_reference, second["id"]}
    assert found[0]["kind_label"] == "more than one transfer for one payout"


def test_an_amount_changed_locally_is_reported_with_both_values(paid_invoice):
    charge = _charge(paid_invoice)
    Transaction.objects.filter(pk=charge.pk).update(amount=4_900)
    code, out, _ = reconcile()
    assert code == 1
    assert f"[amount differs] payment: Charge transaction #{charge.pk}" in out
    assert "local: $49.00; Stripe: $50.00" in out
    assert "1 difference(s)." in out


def test_a_dispute_at_stripe_is_not_recorded_locally(paid_invoice, stripe_server):
    pi = _charge(paid_invoice).stripe_id
    dispute = stripe_server.dispute(pi, amount=2000)
    code, found = differences()
    assert code == 1
    assert [(d["kind"], d["object_type"], d["stripe_ids"]) for d in found] == [
        ("missing_locally", "dispute", [dispute["id"], pi])
    ]
    assert "not recorded locally" in found[0]["message"]


def _recorded_dispute(paid_invoice, stripe_server, amount=2000):
    from billing.services.disputes import dispute_record

    pi = _charge(paid_invoice).stripe_id
    dispute = stripe_server.dispute(pi, amount=amount)
    dispute_record(
        stripe_id=dispute["id"],
        payment_intent_id=pi,
        amount=amount,
        currency="USD",
        reason=dispute["reason"],
        stripe_status=dispute["status"],
    )
    return dispute


def test_a_recorded_dispute_that_matches_stripe_reports_nothing(paid_invoice, stripe_server):
    _recorded_dispute(paid_invoice, stripe_server)
    code, found = differences()
    assert (code, found) == (0, [])


def test_a_dispute_closed_at_stripe_while_ours_is_open_is_reported(paid_invoice, stripe_server):
    dispute = _recorded_dispute(paid_invoice, stripe_server)
    stripe.api_base = settings.STRIPE_API_BASE
    stripe.Dispute.close(dispute["id"], api_key=settings.STRIPE_SECRET_KEY)  # its webhook never came
    code, found = differences()
    assert code == 1
    assert [(d["kind"], d["object_type"], d["local_value"], d["stripe_value"]) for d in found] == [
        ("status_differs", "dispute", "open", "lost")
    ]


def test_a_dispute_amount_changed_locally_is_reported(paid_invoice, stripe_server):
    from billing.models import Dispute

    dispute = _recorded_dispute(paid_invoice, stripe_server)
    Dispute.objects.filter(stripe_id=dispute["id"]).update(amount=1500)
    code, found = differences()
    assert code == 1
    assert [(d["kind"], d["local_value"], d["stripe_value"]) for d in found] == [
        ("amount_differs", "$15.00", "$20.00")
    ]


def test_a_recorded_dispute_stripe_does_not_know_is_missing_at_stripe(paid_invoice, stripe_server):
    from billing.models import Dispute

    dispute = _recorded_dispute(paid_invoice, stripe_server)
    Dispute.objects.filter(stripe_id=dispute["id"]).update(stripe_id="dp_nobodyknows")
    code, found = differences()
    kinds = sorted((d["kind"], d["object_type"], tuple(d["stripe_ids"])) for d in found)
    assert code == 1
    assert kinds == [
        ("missing_at_stripe", "dispute", ("dp_nobodyknows",)),
        ("missing_locally", "dispute", (dispute["id"], _charge(paid_invoice).stripe_id)),
    ]


def test_a_payment_stripe_does_not_know_is_missing_at_stripe(paid_invoice):
    charge = _charge(paid_invoice)
    Transaction.objects.filter(pk=charge.pk).update(stripe_id="pi_nobodyknows")
    Attempt.objects.filter(transaction=charge).update(stripe_id="pi_nobodyknows")
    code, found = differences()
    assert code == 1
    kinds = sorted((d["kind"], tuple(d["stripe_ids"])) for d in found)
    # Ours points nowhere; Stripe's succeeded PaymentIntent is now unrecorded.
    assert kinds == [("missing_at_stripe", ("pi_nobodyknows",)), ("missing_locally", (charge.stripe_id,))]


def test_json_prints_one_object_with_since_differences_and_counts(paid_invoice):
    code, out, _ = reconcile("--json", "--since", (timezone.localdate() - timedelta(days=3)).isoformat())
    report = json.loads(out)
    assert code == 0
    assert set(report) == {"since", "differences", "checked"}
    assert report["since"] == (timezone.localdate() - timedelta(days=3)).isoformat()
    assert report["differences"] == []
    assert report["checked"]["payment_intents"] == 1


def test_the_default_since_is_35_days_ago(stripe_server):
    code, out, _ = reconcile("--json")
    assert (code, json.loads(out)["since"]) == (0, (timezone.localdate() - timedelta(days=35)).isoformat())


def test_since_filters_out_what_is_older(paid_invoice):
    Transaction.objects.filter(invoice=paid_invoice).update(amount=4_900)
    Transaction.objects.filter(invoice=paid_invoice).update(done_at=timezone.now() - timedelta(days=10))
    # Stripe's PaymentIntent is from today: it is found, and it still matches our charge by id.
    code, found = differences("--since", (timezone.localdate() - timedelta(days=3)).isoformat())
    assert (code, found) == (0, [])


@pytest.mark.parametrize("value", ["2025-13-01", "yesterday", "2025-1-5", "", "2025-01-01T00:00"])
def test_a_malformed_since_is_refused_in_one_line_and_changes_nothing(value, stripe_server):
    code, out, err = reconcile("--since", value)
    assert (code, out) == (2, "")
    assert err.strip() == SINCE_MALFORMED.format(value=value)
    assert ReconciliationReport.objects.count() == 0


def test_a_since_in_the_future_is_refused(stripe_server):
    tomorrow = timezone.localdate() + timedelta(days=1)
    code, out, err = reconcile("--since", tomorrow.isoformat())
    assert (code, out) == (2, "")
    assert err.strip() == SINCE_IN_FUTURE.format(
        value=tomorrow.isoformat(), today=timezone.localdate().isoformat()
    )


def test_beat_runs_it_daily_and_stores_the_report_staff_see_first(paid_invoice, admin_client):
    spec = next(s for s in periodic_task_specs() if s.task == "marketplace.reconcile_stripe")
    assert spec.every == timedelta(days=1)
    assert reconcile_task() == {"report_id": ReconciliationReport.objects.get().pk, "differences": 0}
    Transaction.objects.filter(invoice=paid_invoice, kind="charge").update(amount=4_900)
    result = reconcile_task.delay().get()
    report = ReconciliationReport.objects.get(pk=result["report_id"])
    assert report.difference_count == 1 and report.differences[0]["kind"] == "amount_differs"
    page = admin_client.get("/admin/marketplace/reconciliationreport/").content.decode()
    assert page.index("1 difference<") < page.index("None: Stripe matches")
    detail = admin_client.get(f"/admin/marketplace/reconciliationreport/{report.pk}/change/").content.decode()
    assert "[amount differs] payment: Charge transaction" in detail
    assert admin_client.get("/admin/marketplace/reconciliationreport/add/").status_code == 403


def test_stripe_not_answering_says_so_in_one_line_and_exits_3(stripe_server):
    stripe_server.fail_next(50, status=503)
    code, out, err = reconcile()
    assert (code, out) == (3, "")
    assert err.startswith("Stripe did not answer") and err.count("\n") == 1
