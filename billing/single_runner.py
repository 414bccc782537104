"""
One processing loop at a time: the guard `transactions_process_due` takes before it does
anything (process_transactions by hand, beat's run every minute, a worker's retry).

On PostgreSQL the guard is a session advisory lock (django-pglock's `advisory`, taken
with pg_try_advisory_lock so a second run hears "busy" at once instead of waiting). It
belongs to a database session, not to a row with an expiry: when the process holding it
dies (kill -9, the OOM killer, a lost container) or its connection drops (PostgreSQL
restarted), the session ends and PostgreSQL releases the lock, so the next run starts
at once. A lease row would keep every run out until it expired. (Session locks need a
session of their own: no PgBouncer transaction pooling in front of this connection.)

The lock lives on a connection opened for it alone and closed when the run ends:

- the loop closes every Django connection before it forks (a child must never share the
  parent's socket), and closing the connection that holds a session lock releases it.
  This one is registered in `django.db.connections` under an alias of its own that is
  not in DATABASES, so `connections.close_all()` does not see it;
- forked children inherit its socket and never use or close it (a forked
  multiprocessing child leaves with os._exit, which sends PostgreSQL nothing). The
  session ends when the last process holding the socket is gone, so children still
  charging their share keep the run "busy", as they should;
- the loop's own queries, transactions and reconnects go through the default
  connection and cannot touch the lock.

SQLite, the embedded default on one machine, has no advisory locks: there the guard is
the ProcessingLease row, as before; a run killed there keeps the others out until the
lease expires (600 s).
"""

import logging
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol

import pglock
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.db.models import Q
from django.utils import timezone

from .models import ProcessingLease

logger = logging.getLogger(__name__)

LEASE_SECONDS = 600
LEASE_FREE = datetime(2000, 1, 1, tzinfo=UTC)


class Guard(Protocol):
    def take(self) -> bool: ...

    def still_held(self) -> bool: ...

    def release(self) -> None: ...


@contextmanager
def single_runner(name: str) -> Iterator[Guard | None]:
    """Hold the guard named `name` for the block, or yield None at once when another
    process holds it. Between batches, `guard.still_held()` says whether it is still
    this run's (and extends the SQLite lease)."""
    guard: Guard = _AdvisoryLock(name) if connection.vendor == "postgresql" else _Lease(name)
    if not guard.take():
        yield None
        return
    try:
        yield guard
    finally:
        guard.release()


def advisory_lock_key(name: str) -> str:
    """The advisory lock's key (django-pglock hashes it to PostgreSQL's 64-bit id)."""
    return f"marketplace.single_runner:{name}"


class _AdvisoryLock:
    """A session advisory lock on a dedicated connection (see the module docstring)."""

    def __init__(self, name: str):
        # django-pglock locks on `connections[using]`, so the dedicated connection gets an
        # alias there; not one in DATABASES, which would put it in close_all() and make
        # every test declare it. Unique per guard, so a guard never replaces (and lets the
        # garbage collector close) another guard's connection, not even one a forked
        # child inherited. (Only `pglock.advisory` is used: it needs no INSTALLED_APPS entry.)
        self.alias = f"single_runner_{name}_{uuid.uuid4().hex[:8]}"
        self.lock = pglock.advisory(
            advisory_lock_key(name), timeout=0, side_effect=pglock.Return, using=self.alias
        )

    def take(self) -> bool:
        connections[self.alias] = connections[DEFAULT_DB_ALIAS].copy(self.alias)
        try:
            taken = self.lock.acquire()
        except BaseException:
            self._close()
            raise
        if not taken:
            self._close()
        return taken

    def still_held(self) -> bool:
        # A session lock is lost only with its session: a working connection still has it.
        return connections[self.alias].is_usable()

    def release(self) -> None:
        try:
            self.lock.release()
        except DatabaseError:
            logger.warning("The connection holding %s was lost; the lock went with it", self.alias)
        finally:
            self._close()

    def _close(self) -> None:
        try:
            connections[self.alias].close()
        finally:
            del connections[self.alias]


class _Lease:
    """The SQLite guard: a ProcessingLease row held until an expiry."""

    def __init__(self, name: str):
        self.name = name
        self.holder = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"

    def take(self) -> bool:
        return _lease_take(self.name, self.holder, LEASE_SECONDS)

    def still_held(self) -> bool:
        return _lease_take(self.name, self.holder, LEASE_SECONDS)

    def release(self) -> None:
        _lease_release(self.name, self.holder)


def _lease_take(name: str, holder: str, seconds: int) -> bool:
    now = timezone.now()
    ProcessingLease.objects.get_or_create(name=name, defaults={"held_until": LEASE_FREE})
    return bool(
        ProcessingLease.objects.filter(Q(held_until__lt=now) | Q(holder=holder), name=name).update(
            held_until=now + timedelta(seconds=seconds), holder=holder
        )
    )


def _lease_release(name: str, holder: str) -> None:
    ProcessingLease.objects.filter(name=name, holder=holder).update(held_until=LEASE_FREE, holder="")
