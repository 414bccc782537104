"""Upgrading from payout accounts staff typed in: their free-text bank details go into the
account's change log with the numbers masked, as all stored details are shown."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from payouts.bank_details import account_numbers_masked

BEFORE_SELLERS_SET_UP = ("payouts", "0004_remove_earning_earning_sign_matches_kind_and_more")
TYPED = "IBAN DE89 3704 0044 0532 0130 00 (Deutsche Bank), or acct 000123456789 / routing 011000015"
PREFIX = "Bank details typed by staff before sellers entered their own: "


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    executor = MigrationExecutor(connection)  # the graph as it is now
    return executor


def _leaves():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def test_account_numbers_typed_as_free_text_are_masked_and_the_words_kept():
    assert account_numbers_masked(TYPED) == (
        "IBAN DE•• •••• 3000 (Deutsche Bank), or acct ••••6789 / routing ••••0015"
    )
    assert account_numbers_masked("BIC COBADEFFXXX, branch 12") == "BIC COBADEFFXXX, branch 12"


@pytest.mark.django_db(transaction=True)
def test_upgrading_never_keeps_a_full_account_number_in_the_change_log():
    executor = _migrate([BEFORE_SELLERS_SET_UP])
    old = executor.loader.project_state([BEFORE_SELLERS_SET_UP]).apps
    seller = old.get_model("accounts", "User").objects.create(email="typed@example.com", role="seller")
    old.get_model("payouts", "PayoutAccount").objects.create(seller_id=seller.pk, bank_reference=TYPED)

    executor = _migrate(_leaves())

    new = executor.loader.project_state(_leaves()).apps
    [change] = new.get_model("payouts", "PayoutDetailsChange").objects.all()
    assert change.description == PREFIX + account_numbers_masked(TYPED)
    assert "0532" not in change.description and "000123456789" not in change.description


@pytest.mark.django_db(transaction=True)
def test_change_log_rows_the_upgrade_wrote_unmasked_are_masked_and_no_others():
    # A database upgraded before the masking: migration 0005 wrote the text as typed.
    executor = _migrate([("payouts", "0006_merge_20261206_0828")])
    old = executor.loader.project_state([("payouts", "0006_merge_20261206_0828")]).apps
    seller = old.get_model("accounts", "User").objects.create(email="typed@example.com", role="seller")
    account = old.get_model("payouts", "PayoutAccount").objects.create(seller_id=seller.pk)
    Change = old.get_model("payouts", "PayoutDetailsChange")
    typed = Change.objects.create(account=account, description=PREFIX + TYPED)
    by_seller = Change.objects.create(
        account=account, changed_by_id=seller.pk, description=PREFIX + "DE89370400440532013000"
    )

    executor = _migrate(_leaves())

    Change = executor.loader.project_state(_leaves()).apps.get_model("payouts", "PayoutDetailsChange")
    assert Change.objects.get(pk=typed.pk).description == PREFIX + account_numbers_masked(TYPED)
    assert Change.objects.get(pk=by_seller.pk).description == PREFIX + "DE89370400440532013000"
