"""
The double-entry ledger for seller money (DESIGN.md section 4).

Every movement is a journal of entries that sum to zero, written once and never edited;
a correction is a new journal. Each account caches its balance, updated in the same
transaction as its entries, with the account rows locked in id order (and new ones
inserted in key order) so two postings can never deadlock.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from marketplace.bulk import insert_returning_ids

from .models import Earning, Entry, Journal, LedgerAccount, Payout

K = LedgerAccount.Kind


class LedgerError(Exception):
    pass


def account_key(kind: str, currency: str, seller_id: int | None = None) -> str:
    return f"{kind}:{currency}" + (f":{seller_id}" if seller_id else "")


def accounts_get(specs: Iterable[tuple[str, str, int | None]]) -> dict[str, LedgerAccount]:
    """The accounts for (kind, currency, seller id) triples, created when new, by key.

    New accounts are inserted in key order, whatever order the caller gives (often a
    set's, which differs between processes): an insert holds the new key until commit,
    so two transactions creating the same accounts in different orders (two payout
    chunks creating the USD and EUR platform accounts) would deadlock."""
    wanted = {account_key(*spec): spec for spec in specs}
    found = {a.key: a for a in LedgerAccount.objects.filter(key__in=wanted)}
    missing = [
        LedgerAccount(key=key, kind=kind, currency=currency, seller_id=seller_id)
        for key, (kind, currency, seller_id) in sorted(wanted.items())
        if key not in found
    ]
    if missing:
        LedgerAccount.objects.bulk_create(missing, ignore_conflicts=True)
        found = {a.key: a for a in LedgerAccount.objects.filter(key__in=wanted)}
    return found


def _apply_to_balances(deltas: dict[int, int]) -> None:
    """Add each delta to its account's cached balance, locking the rows in id order, in
    one statement per thousand accounts (a payout chunk moves thousands of balances)."""
    ids = sorted(account_id for account_id, delta in deltas.items() if delta)
    if not ids:
        return
    list(LedgerAccount.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))
    table = connection.ops.quote_name(LedgerAccount._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 1_000):
            batch = ids[start : start + 1_000]
            rows = ", ".join(["(CAST(%s AS BIGINT), CAST(%s AS BIGINT))"] * len(batch))
            cursor.execute(
                f"WITH d (id, delta) AS (VALUES {rows}) "
                f"UPDATE {table} SET balance = {table}.balance + d.delta FROM d WHERE {table}.id = d.id",
                [value for pk in batch for value in (pk, deltas[pk])],
            )


def journals_post(postings: list[dict]) -> list[int]:
    """Post many journals at once; returns their ids, in order. Each posting is {kind,
    description, earning?, payout?, lines: [(account, amount), ...]} and must sum to zero."""
    for posting in postings:
        if sum(amount for _, amount in posting["lines"]) != 0:
            raise LedgerError(f"A {posting['kind']} journal does not balance: {posting['lines']}")
    if not postings:
        return []
    assert transaction.get_connection().in_atomic_block, "post journals inside a transaction"
    now = timezone.now()
    journal_ids = insert_returning_ids(
        Journal,
        ["kind", "description", "earning_id", "payout_id", "created_at"],
        [
            (
                p["kind"],
                p.get("description", "")[:400],
                p["earning"].pk if p.get("earning") else None,
                p["payout"].pk if p.get("payout") else None,
                now,
            )
            for p in postings
        ],
    )
    entries = []
    deltas: dict[int, int] = defaultdict(int)
    for journal_id, posting in zip(journal_ids, postings, strict=True):
        for account, amount in posting["lines"]:
            entries.append((journal_id, account.pk, amount))
            deltas[account.pk] += amount
    insert_returning_ids(Entry, ["journal_id", "account_id", "amount"], entries)
    _apply_to_balances(deltas)
    return journal_ids


# --- the movements ------------------------------------------------------------------------


def _earning_accounts(earning: Earning) -> dict[str, LedgerAccount]:
    c = earning.currency
    found = accounts_get(
        [(K.SELLER_BALANCE, c, earning.seller_id), (K.PLATFORM_CASH, c, None), (K.PLATFORM_FEES, c, None)]
    )
    return {
        "seller": found[account_key(K.SELLER_BALANCE, c, earning.seller_id)],
        "cash": found[account_key(K.PLATFORM_CASH, c)],
        "fees": found[account_key(K.PLATFORM_FEES, c)],
    }


def earning_postings(earning: Earning, kind: str, description: str) -> dict:
    """An earning credits the seller's net and the platform's fee out of the funds held;
    a reversal or clawback is the same journal the other way round."""
    a = _earning_accounts(earning)
    sign = 1 if kind in (Journal.Kind.EARNING, Journal.Kind.DISPUTE_RELEASE) else -1
    net = earning.gross_amount - earning.fee_amount
    return {
        "kind": kind,
        "description": description,
        "earning": earning,
        "lines": [
            (a["seller"], sign * net),
            (a["fees"], sign * earning.fee_amount),
            (a["cash"], -sign * earning.gross_amount),
        ],
    }


def payout_postings(payouts: list[Payout], kind: str) -> list[dict]:
    """Journals for many payouts of any currencies:
    built: seller balance -> in transit; paid: in transit -> out of the funds held;
    returned: back to the seller's balance from in transit (or, after a paid transfer was
    reversed, from the funds held)."""
    specs = []
    for p in payouts:
        specs.append((K.SELLER_BALANCE, p.currency, p.seller_id))
        specs.append((K.PAYOUTS_IN_TRANSIT, p.currency, None))
        if kind != Journal.Kind.PAYOUT:
            specs.append((K.PLATFORM_CASH, p.currency, None))
    found = accounts_get(specs)
    postings = []
    for p in payouts:
        seller = found[account_key(K.SELLER_BALANCE, p.currency, p.seller_id)]
        transit = found[account_key(K.PAYOUTS_IN_TRANSIT, p.currency)]
        cash = found.get(account_key(K.PLATFORM_CASH, p.currency))
        if kind == Journal.Kind.PAYOUT:
            lines = [(seller, -p.amount), (transit, p.amount)]
        elif kind == Journal.Kind.PAYOUT_PAID:
            lines = [(transit, -p.amount), (cash, p.amount)]
        elif p.paid_at:
            lines = [(cash, -p.amount), (seller, p.amount)]
        else:
            lines = [(transit, -p.amount), (seller, p.amount)]
        postings.append(
            {"kind": kind, "payout": p, "description": f"Payout #{p.pk} of {p.payout_date}", "lines": lines}
        )
    return postings


# --- checks ----------------------------------------------------------------------------------


@dataclass
class LedgerProblem:
    what: str
    detail: str

    def __str__(self):
        return f"{self.what}: {self.detail}"


def ledger_check(*, limit: int = 20) -> list[LedgerProblem]:
    """Every invariant of seller money, as set-based queries. An empty list means it holds."""
    problems: list[LedgerProblem] = []

    def add(what, rows, fmt):
        for row in rows[:limit]:
            problems.append(LedgerProblem(what, fmt(row)))

    add(
        "journal does not balance",
        list(
            Journal.objects.annotate(total=Sum("entries__amount"), n=Count("entries"))
            .filter(Q(total__isnull=True) | ~Q(total=0) | Q(n__lt=2))
            .values("pk", "kind", "total")
        ),
        lambda r: f"journal #{r['pk']} ({r['kind']}) sums to {r['total']}",
    )
    balances = LedgerAccount.objects.annotate(entries_total=Sum("entries__amount"))
    add(
        "cached balance differs from its entries",
        [
            a
            for a in balances.values("key", "balance", "entries_total")
            if a["balance"] != (a["entries_total"] or 0)
        ],
        lambda r: f"{r['key']} caches {r['balance']} but its entries sum to {r['entries_total'] or 0}",
    )
    # The ledger and the earning lines tell the same story: a seller's balance is what
    # their unpaid lines add up to.
    unpaid = defaultdict(int)
    for row in (
        Earning.objects.filter(payout__isnull=True, reversed_at__isnull=True)
        .values("seller_id", "currency")
        .annotate(total=Sum("amount"))
        .order_by()
    ):
        unpaid[account_key(K.SELLER_BALANCE, row["currency"], row["seller_id"])] = row["total"]
    seller_balances = dict(LedgerAccount.objects.filter(kind=K.SELLER_BALANCE).values_list("key", "balance"))
    add(
        "seller balance differs from their unpaid earnings",
        [
            (key, seller_balances.get(key, 0), unpaid.get(key, 0))
            for key in sorted(set(unpaid) | set(seller_balances))
            if seller_balances.get(key, 0) != unpaid.get(key, 0)
        ],
        lambda r: f"{r[0]} is {r[1]} but the unpaid earnings add up to {r[2]}",
    )
    add(
        "payout amount differs from its earnings",
        list(
            Payout.objects.filter(status__in=Payout.LIVE_STATUSES)
            .annotate(lines=Coalesce(Sum("earnings__amount"), 0))
            .exclude(lines=F("amount"))
            .values("pk", "amount", "lines")
        ),
        lambda r: f"payout #{r['pk']} is {r['amount']} but its earnings add up to {r['lines']}",
    )
    add(
        "earning held by a failed or canceled payout",
        list(
            Earning.objects.filter(payout__status__in=[Payout.Status.FAILED, Payout.Status.CANCELED]).values(
                "pk", "payout_id"
            )
        ),
        lambda r: f"earning #{r['pk']} still belongs to payout #{r['payout_id']}",
    )
    add(
        "earning belongs to a payout that does not exist",
        list(
            Earning.objects.filter(payout_id__isnull=False)
            .filter(~Exists(Payout.objects.filter(pk=OuterRef("payout_id"))))
            .values("pk", "payout_id")
        ),
        lambda r: f"earning #{r['pk']} belongs to payout #{r['payout_id']}, which is not there",
    )
    add(
        "reversed earning was paid",
        list(Earning.objects.filter(reversed_at__isnull=False, payout__isnull=False).values("pk")),
        lambda r: f"earning #{r['pk']}",
    )
    return problems
