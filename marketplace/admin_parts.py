"""
Pieces the apps' admins share.

Read-only inlines, for rows only services write. Admin actions that ask for something (a reason, a reference, an amount) on an
intermediate page before they act on the selected rows. Orders, billing and payouts use
the same page (`templates/admin/action_form.html`; each app's template only says what the
rows are and what happens) and, where they report row by row, the same action.
"""

from collections.abc import Callable, Iterable

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.contenttypes.admin import GenericTabularInline
from django.core.paginator import Paginator
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils.functional import cached_property
from django_fsm_log.models import StateLog

from .exceptions import ApplicationError
from .platform_time import datetime_text


def action_form_page(
    modeladmin, request, queryset, *, template: str, label: str, **context
) -> TemplateResponse:
    return TemplateResponse(
        request,
        template,
        {
            **modeladmin.admin_site.each_context(request),
            "title": label,
            "label": label,
            "objects": queryset,
            "action_name": request.POST["action"],
            "opts": modeladmin.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            **context,
        },
    )


NOTHING_CHANGED = "Nothing was changed: fix or unselect the rows above and try again."


def rows_refused(modeladmin, request, queryset, check) -> bool:
    """Run `check(obj)` on every selected row before any is changed. Each row it refuses
    (ApplicationError or ValueError) is reported by name; True when any was refused, and
    then the action must change nothing."""
    refused = []
    for obj in queryset:
        try:
            check(obj)
        except (ApplicationError, ValueError) as exc:
            refused.append(f"{obj}: {exc}")
    for line in refused:
        modeladmin.message_user(request, line, messages.ERROR)
    if refused:
        modeladmin.message_user(request, NOTHING_CHANGED, messages.ERROR)
    return bool(refused)


def text_action(label: str, *, template: str, missing_text: str | None, check=None, **context):
    """Decorate `apply(obj, request, text)` into an admin action: the intermediate page
    asks for the text (required unless `missing_text` is None). `check(obj, request, text)`,
    when given, runs on every selected row first, and if it refuses any, no row is
    changed; then `apply` runs for each row, each refusal (a row that changed meanwhile)
    reported on its own."""

    def decorator(apply):
        def action(modeladmin, request, queryset):
            if "apply" not in request.POST:
                return action_form_page(
                    modeladmin,
                    request,
                    queryset,
                    template=template,
                    label=label,
                    text_required=missing_text is not None,
                    **context,
                )
            text = request.POST.get("reason", "").strip()
            if missing_text and not text:
                modeladmin.message_user(request, missing_text, messages.ERROR)
                return None
            if check and rows_refused(modeladmin, request, queryset, lambda obj: check(obj, request, text)):
                return None
            for obj in queryset:
                try:
                    apply(obj, request, text)
                    modeladmin.message_user(request, f"{label}: {obj} done.", messages.SUCCESS)
                except (ApplicationError, ValueError) as exc:
                    modeladmin.message_user(request, f"{obj}: {exc}", messages.WARNING)
            return None

        action.__name__ = apply.__name__
        action.short_description = label
        return action

    return decorator


class ReadOnlyInline(admin.TabularInline):
    """Rows shown on their parent's page that only services write."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class UntitledReadOnlyInline(ReadOnlyInline):
    """A read-only inline whose rows carry no title (their __str__): the columns say it."""

    template = "admin/edit_inline/tabular_untitled.html"


def when(moment) -> str:
    """An instant for staff: the platform's wall-clock time to the minute, with its zone."""
    if moment is None:
        return "–"
    return datetime_text(moment)


# How each app says its records' status changes, as sentences: {model: {transition name:
# sentence(record, who, note)}}, `who` being the person's name or None when the system
# acted, `note` the change's description ("" when none): one transition can stand for two
# outcomes the note tells apart. Apps register theirs in AppConfig.ready() (the platform
# layer imports no business app).
StateSentence = Callable[[object, str | None, str], str]
_STATE_SENTENCES: dict[type, dict[str, StateSentence]] = {}


def state_sentences_register(model, sentences: dict[str, StateSentence]) -> None:
    _STATE_SENTENCES[model] = sentences


def state_log_sentence(log, record) -> str:
    """One status change of `record` as a sentence saying who did what ("Ada Admin marked
    the payout of $66.60 paid"); a change nobody registered words for says so from the
    statuses' labels, never their stored names."""
    model = type(record)
    who = str(log.by) if log.by else None
    sentence = _STATE_SENTENCES.get(model, {}).get(log.transition)
    if sentence is not None:
        return sentence(record, who, log.description or "")
    labels = status_labels(model)
    source, target = labels.get(log.source_state, log.source_state), labels.get(log.state, log.state)
    return f"{who or 'The system'} moved it from {source.lower()} to {target.lower()}"


class StateHistoryInline(GenericTabularInline):
    """A record's status changes in people's words, like an order's timeline: one sentence
    per change saying who did what (`state_log_sentence`), when (platform timezone, to the
    minute), and the note given. django-fsm-log's own inline shows the stored names and
    microsecond timestamps."""

    model = StateLog
    extra = 0
    can_delete = False
    fields = ["what_happened", "changed", "note"]
    readonly_fields = fields
    template = "admin/edit_inline/tabular_untitled.html"
    verbose_name = "status change"
    verbose_name_plural = "status history"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("by", "content_type").order_by("timestamp", "pk")

    def get_formset(self, request, obj=None, **kwargs):
        self._record = obj  # the record whose history is shown, for the sentences
        return super().get_formset(request, obj, **kwargs)

    @admin.display(description="what happened")
    def what_happened(self, log):
        record = getattr(self, "_record", None)
        if record is None or type(record) is not log.content_type.model_class():
            record = log.content_object
        return state_log_sentence(log, record)

    @admin.display(description="when")
    def changed(self, log):
        return when(log.timestamp)

    @admin.display(description="note")
    def note(self, log):
        return log.description or "–"


def status_labels(model) -> dict[str, str]:
    """A model's status values and what people call them."""
    return {str(value): str(label) for value, label in model._meta.get_field("status").choices}


class NoSaveButtons:
    """For records only services change (all fields read-only, the admin's actions act):
    no Save or Delete buttons on the change page, which would suggest otherwise."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        hidden = {
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
        }
        return super().change_view(request, object_id, form_url, {**hidden, **(extra_context or {})})


# --- changelists that stay fast on tables of millions of rows ---------------------------------


class CappedCountPaginator(Paginator):
    """Counts at most `cap` rows (a LIMIT inside the count, without the list's joins and
    ordering), so a changelist never reads every row of a big table just to print how many
    there are. Pages past the cap are reached by filtering or searching instead;
    `templates/admin/pagination.html` says "more than" when the cap was hit."""

    cap = 10_000

    @cached_property
    def count(self) -> int:
        found = self.object_list.select_related(None).order_by()[: self.cap + 1].count()
        self.capped = found > self.cap
        return min(found, self.cap)


# More users than this matching an email search: the search runs as a subquery instead.
EMAIL_MATCHES_INLINE = 500


def users_matching_email(term: str):
    """Users whose email contains `term`, case-insensitively: on PostgreSQL a trigram index
    (accounts migration 0003) answers this without reading the table."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(email__icontains=term)


class ScaledChangeList(admin.ModelAdmin):
    """A changelist for a table that grows without end: counts capped, no second count of
    the whole table, and a search in which every field uses an index:

    - "=field" on an integer field (order number, invoice number): exact, digits only;
    - "=field" on a text field (a Stripe id, a bank reference): exact, case as typed;
    - "path__email": the people whose email contains the text (trigram index), then their
      rows through the path's index, never a join scanned row by row.

    Sorting and filtering by date range, status, currency use the indexes each model
    declares for its default ordering."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    # Rendering a row costs more than finding it: 50 rows keep a page under 200 ms.
    list_per_page = 50

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        matches = Q()
        people = None
        for field in self.get_search_fields(request):
            if field.endswith("__email"):
                if people is None:
                    users = users_matching_email(term).order_by().values_list("pk", flat=True)
                    ids = list(users[: EMAIL_MATCHES_INLINE + 1])
                    # A short list of ids lets PostgreSQL read each one through its index.
                    people = ids if len(ids) <= EMAIL_MATCHES_INLINE else users
                matches |= Q(**{f"{field.removesuffix('__email')}__in": people})
                continue
            name = field.removeprefix("=")
            target = get_fields_from_path(self.model, name)[-1]
            if target.get_internal_type() in {
                "AutoField",
                "BigAutoField",
                "BigIntegerField",
                "IntegerField",
            } or (target.is_relation):
                # isdigit() is true for "²" too, which int() refuses: ASCII digits only.
                if term.isascii() and term.isdigit():
                    matches |= Q(**{name: int(term)})
            else:
                matches |= Q(**{name: term})
        if not matches:
            return queryset.none(), False
        return queryset.filter(matches), False


def fixed_choices_filter(
    field: str,
    title: str,
    choices: Callable[[], Iterable[tuple[str, str]]],
    match: Callable[[str], Q] | None = None,
) -> type[admin.SimpleListFilter]:
    """A list filter whose choices are known without reading the table (`choices()`: the
    values the code or Stripe can write, with their labels), instead of Django's filter
    over a column's values, which runs a DISTINCT over every row each time the list is
    shown. A value typed into the address still filters. `match(value)`: the rows a value
    selects (default: the field equals it)."""

    class FixedChoicesFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request, model_admin):
            found = list(choices())
            if self.value() and self.value() not in {value for value, _ in found}:
                found.append((self.value(), self.value()))
            return found

        def queryset(self, request, queryset):
            if not self.value():
                return queryset
            return queryset.filter(match(self.value()) if match else Q(**{field: self.value()}))

    FixedChoicesFilter.title = title
    FixedChoicesFilter.__name__ = f"{field.title().replace('_', '')}Filter"
    return FixedChoicesFilter


# Currencies from settings (MARKETPLACE_CURRENCIES); "eur" typed into the address finds EUR.
FixedChoicesCurrencyFilter = fixed_choices_filter(
    "currency",
    "currency",
    lambda: [(code, code) for code in sorted(settings.MARKETPLACE_CURRENCIES)],
    match=lambda value: Q(currency=value.upper()),
)
