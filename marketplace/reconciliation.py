"""
Reconciliation with Stripe (`manage.py reconcile_stripe`, and beat once a day): every
difference between what the apps recorded and what Stripe holds.

The platform knows no business app. Each app that keeps Stripe records provides
`<app>/reconcile.py` with

    def stripe_differences(*, since: datetime) -> Findings

and this module collects them all (`app_modules("reconcile")`, as for periodic tasks
and demo data), so that billing checks its PaymentIntents, refunds and disputes and
payouts its transfers, and nothing here imports them.

Each app compares only what is its own: the objects its records point at, and the
objects Stripe holds that carry its metadata (or go to its sellers' accounts), so that
another system sharing the Stripe account is never reported as "missing locally".
"""

import enum
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from .app_modules import app_modules
from .exceptions import ApplicationError
from .models import ReconciliationReport
from .money import format_money

DEFAULT_DAYS = 35

SINCE_MALFORMED = "--since must be a date written YYYY-MM-DD, such as 2025-01-31; got “{value}”."
SINCE_IN_FUTURE = "--since must not be in the future; got {value} and today is {today}."


class DifferenceKind(enum.StrEnum):
    MISSING_AT_STRIPE = "missing_at_stripe"
    MISSING_LOCALLY = "missing_locally"
    AMOUNT_DIFFERS = "amount_differs"
    STATUS_DIFFERS = "status_differs"
    DUPLICATE_TRANSFER = "duplicate_transfer"


KIND_LABELS = {
    DifferenceKind.MISSING_AT_STRIPE: "missing at Stripe",
    DifferenceKind.MISSING_LOCALLY: "missing locally",
    DifferenceKind.AMOUNT_DIFFERS: "amount differs",
    DifferenceKind.STATUS_DIFFERS: "status differs",
    DifferenceKind.DUPLICATE_TRANSFER: "more than one transfer for one payout",
}


@dataclass(frozen=True)
class Difference:
    """One thing that does not match. `record` names the local row ("Transaction #12"),
    empty when there is none; `stripe_ids` the Stripe objects involved; the values are
    written for people (amounts formatted, statuses in words)."""

    kind: DifferenceKind
    object_type: str  # "payment", "refund", "transfer", "dispute"
    record: str
    stripe_ids: tuple[str, ...]
    local_value: str
    stripe_value: str
    message: str

    def as_dict(self) -> dict:
        data = asdict(self)
        data["kind"] = str(self.kind)
        data["kind_label"] = KIND_LABELS[self.kind]
        data["stripe_ids"] = list(self.stripe_ids)
        return data


@dataclass
class Findings:
    differences: list[Difference] = field(default_factory=list)
    # How many objects of each type were compared (local and Stripe's, each once).
    checked: Counter = field(default_factory=Counter)

    def add(
        self,
        kind: DifferenceKind,
        object_type: str,
        *,
        record="",
        stripe_ids=(),
        local="",
        stripe="",
        message,
    ):
        self.differences.append(
            Difference(
                kind=kind,
                object_type=object_type,
                record=record,
                stripe_ids=tuple(i for i in stripe_ids if i),
                local_value=local,
                stripe_value=stripe,
                message=message,
            )
        )

    def compare_amounts(
        self,
        object_type: str,
        *,
        record: str,
        stripe_id: str,
        local: tuple[int, str],
        stripe: tuple[int, str],
        message: str,
    ) -> None:
        """An "amount differs" finding when our (amount, currency) is not Stripe's (both
        in ISO minor units). `message` names the two amounts as {local} and {stripe}."""
        if (local[0], local[1].upper()) == (stripe[0], stripe[1].upper()):
            return
        ours, theirs = format_money(*local), format_money(*stripe)
        self.add(
            DifferenceKind.AMOUNT_DIFFERS,
            object_type,
            record=record,
            stripe_ids=[stripe_id],
            local=ours,
            stripe=theirs,
            message=message.format(local=ours, stripe=theirs),
        )

    def extend(self, other: "Findings") -> None:
        self.differences.extend(other.differences)
        self.checked.update(other.checked)


def since_default(today: date | None = None) -> date:
    return (today or timezone.localdate()) - timedelta(days=DEFAULT_DAYS)


def since_parse(value: str | None, *, today: date | None = None) -> date:
    """The `--since` date, or the default (35 days ago). ApplicationError with a one-line
    message for people when it is malformed or in the future."""
    today = today or timezone.localdate()
    if value is None:
        return since_default(today)
    try:
        parsed = date.fromisoformat(value.strip())
    except ValueError:
        raise ApplicationError(SINCE_MALFORMED.format(value=value)) from None
    if len(value.strip()) != 10:
        raise ApplicationError(SINCE_MALFORMED.format(value=value))
    if parsed > today:
        raise ApplicationError(SINCE_IN_FUTURE.format(value=parsed.isoformat(), today=today.isoformat()))
    return parsed


def since_start(since: date) -> datetime:
    """The first instant of `since` in the platform's timezone."""
    return datetime.combine(since, time.min, tzinfo=timezone.get_default_timezone())


def stripe_reconcile(*, since: date) -> Findings:
    """Every app's differences with Stripe since the start of `since`."""
    start = since_start(since)
    findings = Findings()
    for module in app_modules("reconcile"):
        check = getattr(module, "stripe_differences", None)
        if check is not None:
            findings.extend(check(since=start))
    return findings


def report_as_dict(*, since: date, findings: Findings) -> dict:
    """The `--json` shape, also what the stored report keeps."""
    return {
        "since": since.isoformat(),
        "differences": [d.as_dict() for d in findings.differences],
        "checked": dict(sorted(findings.checked.items())),
    }


def reconciliation_report_create(*, since: date | None = None):
    """Reconcile and store the report (what beat runs once a day). Returns the report."""
    since = since or since_default()
    findings = stripe_reconcile(since=since)
    data = report_as_dict(since=since, findings=findings)
    return ReconciliationReport.objects.create(
        since=since,
        differences=data["differences"],
        checked=data["checked"],
        difference_count=len(findings.differences),
    )


def difference_line(difference: dict) -> str:
    """One difference in one line, for the command's text output and the admin."""
    ids = ", ".join(difference.get("stripe_ids") or []) or "no Stripe object"
    record = difference.get("record") or "no local record"
    return (
        f"[{difference['kind_label']}] {difference['object_type']}: {record} / {ids}: {difference['message']}"
    )
