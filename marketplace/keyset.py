"""
"Newer / older" pages of a list sorted newest first (`-created_at, -id`), by position
rather than by page number: the next page starts after the last row shown, so the
database reads one page through its index however deep the page is, and nothing counts
every row. (Django's Paginator counts all rows and skips `OFFSET` rows: a seller with a
million orders waited for both on every page.)

A position is written in links as `<microseconds since 1970>_<id>` of a row; a link
that is not one raises `ValueError`, which a view turns into the first page.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Q, QuerySet

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BROKEN_LINK = "That page link is not one this site made; showing the newest first."


@dataclass(frozen=True)
class KeysetPage:
    object_list: list
    newer: str | None  # position to ask for the page of newer rows, if there may be one
    older: str | None  # and of older rows

    @property
    def has_other_pages(self) -> bool:
        return bool(self.newer or self.older)


def position_of(row) -> str:
    return f"{(row.created_at - EPOCH) // timedelta(microseconds=1)}_{row.pk}"


def position_parse(text: str) -> tuple[datetime, int]:
    micros, _, pk = text.partition("_")
    # isdigit() is true for "²" too, which int() refuses: ASCII digits only.
    if not (micros.isascii() and pk.isascii() and micros.isdigit() and pk.isdigit()):
        raise ValueError(BROKEN_LINK)
    try:
        return EPOCH + timedelta(microseconds=int(micros)), int(pk)
    except OverflowError as exc:
        raise ValueError(BROKEN_LINK) from exc


def keyset_page(
    queryset: QuerySet, *, size: int, older_than: str | None = None, newer_than: str | None = None
) -> KeysetPage:
    """One page of `queryset` (newest first): the newest rows, or those just older than
    the position `older_than`, or just newer than `newer_than`. One query."""
    if newer_than:
        at, pk = position_parse(newer_than)
        # `created_at >= at` bounds the index range; the rest breaks ties on the same instant.
        rows = list(
            queryset.filter(Q(created_at__gte=at), Q(created_at__gt=at) | Q(pk__gt=pk)).order_by(
                "created_at", "id"
            )[: size + 1]
        )
        more = len(rows) > size
        rows = rows[:size][::-1]
        return KeysetPage(
            rows, newer=position_of(rows[0]) if more else None, older=position_of(rows[-1]) if rows else None
        )
    if older_than:
        at, pk = position_parse(older_than)
        queryset = queryset.filter(Q(created_at__lte=at), Q(created_at__lt=at) | Q(pk__lt=pk))
    rows = list(queryset.order_by("-created_at", "-id")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return KeysetPage(
        rows,
        newer=position_of(rows[0]) if older_than and rows else None,
        older=position_of(rows[-1]) if more else None,
    )
