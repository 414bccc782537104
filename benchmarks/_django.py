"""Start Django for a benchmark.

By default on a throwaway database (Django's test-database machinery: `test_<name>` on
PostgreSQL, a temporary file on SQLite), dropped at the end. With `BENCH_KEEP=1` on
PostgreSQL, the data is loaded once into `<name>_<suffix>` (named after the database in
DATABASE_URL) and kept, so the next run of a million-row benchmark skips the loading."""

import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KEEP = os.environ.get("BENCH_KEEP") == "1"


_ready = False


def setup_django():
    global _ready
    if _ready:
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings.test")
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment(debug=False)  # as in production: no query log
    _ready = True


def _server_command(connection, sql: str) -> None:
    connection.close()
    with connection._nodb_cursor() as cursor:
        cursor.execute(sql)


def database_exists(connection, name: str) -> bool:
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


def database_clone(connection, *, template: str, name: str) -> None:
    """A fresh copy of `template` (a file copy: no dead rows, no warm-up history), so
    every timed run starts from the same state.

    PostgreSQL 15 and later copy a database through the WAL by default (STRATEGY
    WAL_LOG): a 3 GB copy writes 3 GB of WAL, and the checkpoints that asks for would
    then run during the timed run, writing the copy's pages out beside it. FILE_COPY
    copies the files between two checkpoints instead, and the CHECKPOINT after it starts
    every timed run with nothing of the copy left to write."""
    _server_command(connection, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    strategy = " STRATEGY = FILE_COPY" if connection.pg_version >= 150000 else ""
    _server_command(connection, f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
    _server_command(connection, "CHECKPOINT")


def database_drop(connection, name: str) -> None:
    _server_command(connection, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def use_database(connection, name: str) -> None:
    connection.close()
    connection.settings_dict["NAME"] = name


@contextmanager
def benchmark_database(suffix: str = "bench"):
    """Yields (connection, fresh): `fresh` is False when kept data is being reused."""
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    if KEEP and connection.vendor == "postgresql":
        base = connection.settings_dict["NAME"]
        name = f"{base}_{suffix}"
        fresh = not database_exists(connection, name)
        if fresh:
            _server_command(connection, f'CREATE DATABASE "{name}"')
        use_database(connection, name)
        call_command("migrate", verbosity=0, interactive=False)
        try:
            yield connection, fresh
        finally:
            use_database(connection, base)
        return
    if connection.vendor == "sqlite":
        connection.settings_dict["TEST"]["NAME"] = tempfile.mktemp(suffix=".sqlite3")
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield connection, True
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)
