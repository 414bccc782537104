from io import StringIO

from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from accounts.models import User
from marketplace.demo import DEMO_LOGINS
from marketplace.periodic import periodic_task_specs


def test_setup_periodic_tasks_twice_leaves_one_of_each(db):
    call_command("setup_periodic_tasks", stdout=StringIO())
    call_command("setup_periodic_tasks", stdout=StringIO())
    names = list(PeriodicTask.objects.filter(enabled=True).values_list("name", flat=True))
    declared = [spec.name for spec in periodic_task_specs()]
    assert sorted(names) == sorted(declared)
    assert len(names) == len(set(names))


def test_setup_periodic_tasks_disables_a_task_that_is_no_longer_declared(db):
    call_command("setup_periodic_tasks", stdout=StringIO())
    heartbeat = PeriodicTask.objects.get(name="Worker heartbeat")
    old = PeriodicTask.objects.create(
        name="Retired job",
        task="marketplace.retired",
        interval=heartbeat.interval,
        description="old [managed by setup_periodic_tasks]",
    )
    out = StringIO()
    call_command("setup_periodic_tasks", stdout=out)
    old.refresh_from_db()
    assert old.enabled is False
    assert "disabled: Retired job" in out.getvalue()


def test_seed_demo_twice_duplicates_nothing_and_prints_working_logins(db, client, stripe_server):
    from billing.models import Invoice, Subscription
    from orders.models import Order

    first = StringIO()
    call_command("seed_demo", stdout=first)
    users_after_first = User.objects.count()
    invoices_after_first = Invoice.objects.count()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert User.objects.count() == users_after_first
    assert Invoice.objects.count() == invoices_after_first
    # Orders in every status, paid through billing; invoices in every resting status.
    assert set(Order.objects.values_list("status", flat=True)) == set(Order.Status.values)
    assert set(Invoice.objects.values_list("status", flat=True)) == set(Invoice.Status.values) - {"refunding"}
    assert Invoice.objects.filter(status="settled", amount_refunded__gt=0).exists()
    assert set(Subscription.objects.values_list("status", flat=True)) == {"active", "past_due"}
    from billing.services import invoice_attempt_awaiting_authentication

    waiting = [i for i in Invoice.objects.all() if invoice_attempt_awaiting_authentication(i)]
    assert len(waiting) == 1 and f"invoice #{waiting[0].pk} waits for its customer's bank" in first.getvalue()
    # Payouts: paid, and one failed and sent again; a seller below zero after a
    # refund after payout; and the ledger holds.
    from payouts.ledger import ledger_check
    from payouts.models import LedgerAccount, Payout

    assert {"paid", "failed"} <= set(Payout.objects.values_list("status", flat=True))
    assert LedgerAccount.objects.filter(kind="seller_balance", balance__lt=0).exists()
    assert ledger_check() == []
    # How the sellers are paid: one on each provider, one halfway through Stripe's
    # onboarding, one whose new bank details are cooling off.
    from finance.models import PayoutCycleSettings
    from payouts.payability import sellers_payability

    config = PayoutCycleSettings.load()
    sellers = {u.pk: u.email for u in User.objects.filter(role=User.Role.SELLER)}
    decisions = sellers_payability(seller_ids=sellers, payout_date=config.today(), config=config)
    said = {sellers[pk]: (d.provider, d.block) for pk, d in decisions.items()}
    assert said == {
        "seller@demo.test": ("manual", ""),
        "seller2@demo.test": ("manual", ""),
        "seller3@demo.test": ("stripe_connect", ""),
        "seller4@demo.test": ("stripe_connect", "stripe_not_ready"),
        "seller5@demo.test": ("manual", "cooling_off"),
    }
    for login in DEMO_LOGINS:
        line = next(line for line in out.getvalue().splitlines() if login.email in line)
        assert line.endswith(f"password: {login.password}")
        assert client.login(username=login.email, password=login.password)


def test_seed_demo_if_empty_leaves_an_existing_database_alone(db):
    User.objects.create_user(email="someone@example.com", password="x" * 12)
    out = StringIO()
    call_command("seed_demo", "--if-empty", stdout=out)
    assert User.objects.count() == 1
    assert "already has users" in out.getvalue()
