"""A paid earning writes one index fewer: a seller's lines and a payout's share one index,
(seller, payout). The foreign keys stay as they are: only their own indexes are dropped
(an AlterField would drop and re-add each constraint, checking every row again)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Django's names for the foreign keys' indexes (migration 0001), the same on every database.
OLD_INDEXES = {
    "payouts_earning_payout_id_69329871": "payout_id",
    "payouts_earning_seller_id_d6ef651a": "seller_id",
}


class Migration(migrations.Migration):

    dependencies = [
        ("orders", "0004_merge_20261206_0834"),
        ("payouts", "0007_bank_files_name_their_account"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # The new index first, so a seller's lines are never without one.
    operations = [
        migrations.AddIndex(
            model_name="earning",
            index=models.Index(fields=["seller", "payout"], name="earning_seller_payout"),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "payouts_earning" ("{column}")',
                )
                for name, column in OLD_INDEXES.items()
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="earning",
                    name="payout",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="earnings",
                        to="payouts.payout",
                    ),
                ),
                migrations.AlterField(
                    model_name="earning",
                    name="seller",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="earnings",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
    ]
