"""A trigram index on upper(email), on PostgreSQL only: the admin's "email contains"
searches (orders, invoices, payouts, earnings) read it instead of every user row. SQLite
has no pg_trgm; there the search reads the table, which is fine at SQLite's sizes."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations


# The expression is Django's own for `email__icontains` on PostgreSQL, so the planner
# matches it: UPPER("email"::text) LIKE UPPER('%…%').
def add_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            'CREATE INDEX IF NOT EXISTS user_email_trgm ON accounts_user USING gin ((UPPER("email"::text)) gin_trgm_ops)'
        )


def remove_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS user_email_trgm")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        TrigramExtension(),  # does nothing on other databases
        migrations.RunPython(add_index, remove_index),
    ]
