"""
Inserting thousands of rows without a model instance per row (a payout chunk inserts
thousands of payouts, journals and entries): on PostgreSQL one `INSERT … SELECT FROM
unnest(…)` per 5,000 rows, the values given as one array per column; elsewhere Django's
`bulk_create`. Columns not given get their field's default, as `bulk_create` would.
"""

from collections.abc import Sequence

from django.db import connection
from django.db.models import NOT_PROVIDED
from django.utils import timezone

BATCH = 5_000


def _cast(field) -> str:
    target = field.target_field if field.is_relation else field
    return target.cast_db_type(connection)


def insert_returning_ids(model, columns: Sequence[str], rows: Sequence[tuple]) -> list[int]:
    """Insert `rows` (one value per column of `columns`: field names, or a foreign key's
    attname, with values ready for the database) and return their ids, in order."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        objects = model.objects.bulk_create([model(**dict(zip(columns, row, strict=True))) for row in rows])
        return [obj.pk for obj in objects]
    meta = model._meta
    given = [meta.get_field(column) for column in columns]
    constant_fields, constants = [], []
    for field in meta.concrete_fields:
        if field in given or field.primary_key or field.db_default is not NOT_PROVIDED:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = timezone.now()
        else:
            value = field.get_default()
        constant_fields.append(field)
        constants.append(field.get_db_prep_save(value, connection))
    quote = connection.ops.quote_name
    arrays = ", ".join(f"%s::{_cast(field)}[]" for field in given)
    extra = "".join(f", %s::{_cast(field)}" for field in constant_fields)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} "
        f"({', '.join(quote(field.column) for field in given + constant_fields)}) "
        f"SELECT u.*{extra} FROM unnest({arrays}) AS u RETURNING {quote(meta.pk.column)}"
    )
    ids = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            cursor.execute(sql, constants + [list(values) for values in zip(*batch, strict=True)])
            ids.extend(row[0] for row in cursor.fetchall())
    return ids
