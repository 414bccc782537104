"""Start Django for a benchmark on a throwaway database (Django's test-database
machinery: `test_<name>` on PostgreSQL, a temporary file on SQLite), dropped at the end."""

import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@contextmanager
def benchmark_database():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings.test")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment(debug=False)  # as in production: no query log
    if connection.vendor == "sqlite":
        connection.settings_dict["TEST"]["NAME"] = tempfile.mktemp(suffix=".sqlite3")
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield connection
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)
