"""A paid line's payout is no longer checked by a foreign-key constraint, row by row (on
3M lines a quarter of a payout run); deleting a payout that still holds lines is refused
by a trigger instead, as the constraint did. PostgreSQL only: on SQLite (development and
the quick test run) Django's `flush` empties tables in any order, which a trigger would
refuse, and runs are small there.

The constraint is dropped, not re-checked: nothing changes in the rows."""

import django.db.models.deletion
from django.db import migrations, models

TRIGGER = """
CREATE FUNCTION payouts_payout_keeps_its_lines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- earning_seller_payout finds the lines by seller and payout.
    IF EXISTS (SELECT 1 FROM payouts_earning WHERE seller_id = OLD.seller_id AND payout_id = OLD.id) THEN
        RAISE EXCEPTION 'payout % still holds earnings: give them back to the seller (payout_id = NULL) before deleting it', OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER payout_keeps_its_lines BEFORE DELETE ON payouts_payout
    FOR EACH ROW EXECUTE FUNCTION payouts_payout_keeps_its_lines();
"""

DROP_TRIGGER = """
DROP TRIGGER IF EXISTS payout_keeps_its_lines ON payouts_payout;
DROP FUNCTION IF EXISTS payouts_payout_keeps_its_lines();
"""


def trigger_create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER, params=None)  # no placeholders: RAISE uses %


def trigger_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("payouts", "0009_merge_20261206_1250"),
    ]

    operations = [
        migrations.RunPython(trigger_create, trigger_drop),
        migrations.AlterField(
            model_name="earning",
            name="payout",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="earnings",
                to="payouts.payout",
            ),
        ),
    ]
