"""Every transition: the allowed path, the refused state and the refused actor."""

from unittest import mock

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone
from django_fsm import TransitionNotAllowed
from django_fsm_log.models import StateLog
from post_office.models import STATUS, Email

from accounts.tests.factories import BuyerFactory, SellerFactory, StaffFactory
from marketplace.exceptions import ApplicationError
from marketplace.fsm import transition_custom
from orders import services
from orders.models import Order
from orders.services import ItemLine

from .factories import OrderFactory

S = Order.Status
pytestmark = pytest.mark.django_db

# (service, kwargs, from-status, to-status, the party that may act, a party that may not)
CASES = [
    (
        services.order_mark_shipped,
        {"carrier": "DHL", "tracking_number": "1Z"},
        S.PAID,
        S.SHIPPED,
        "seller",
        "buyer",
    ),
    (services.order_mark_delivered, {}, S.PAID, S.PENDING_CUSTOMER_CONFIRMATION, "seller", "buyer"),
    (services.order_mark_delivered, {}, S.SHIPPED, S.PENDING_CUSTOMER_CONFIRMATION, "seller", "buyer"),
    (services.order_confirm_received, {}, S.PENDING_CUSTOMER_CONFIRMATION, S.COMPLETED, "buyer", "seller"),
    (
        services.order_report_not_received,
        {"message": "Empty box"},
        S.PENDING_CUSTOMER_CONFIRMATION,
        S.PENDING_SELLER_ACTION,
        "buyer",
        "seller",
    ),
    (
        services.order_resolve_and_confirm_delivery,
        {},
        S.PENDING_SELLER_ACTION,
        S.PENDING_CUSTOMER_CONFIRMATION,
        "seller",
        "buyer",
    ),
    (services.order_refund, {"reason": "Damaged"}, S.SHIPPED, S.REFUNDED, "seller", "buyer"),
    (services.order_refund, {"reason": "Damaged"}, S.COMPLETED, S.REFUNDED, "seller", "buyer"),
    (services.order_cancel, {}, S.PENDING_PAYMENT, S.CANCELED, "buyer", "seller"),
]


def _ids(case):
    return f"{case[0].__name__}-from-{case[2]}"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_the_allowed_party_takes_the_transition_and_it_is_logged_with_their_name(case):
    service, kwargs, source, target, who, _ = case
    order = OrderFactory(status=source, confirmation_round=1)
    actor = getattr(order, who)
    result = service(order_id=order.pk, by=actor, **kwargs)
    assert result.status == target
    order.refresh_from_db()
    assert order.status == target
    log = StateLog.objects.for_(order).latest()
    assert (log.source_state, log.state, log.by) == (source, target, actor)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_the_other_party_is_refused_and_nothing_changes(case):
    service, kwargs, source, _, _, other = case
    order = OrderFactory(status=source, confirmation_round=1)
    with pytest.raises(ApplicationError, match="^Only "):
        service(order_id=order.pk, by=getattr(order, other), **kwargs)
    order.refresh_from_db()
    assert order.status == source
    assert not StateLog.objects.for_(order).exists()


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_a_stranger_is_refused(case):
    service, kwargs, source, *_ = case
    order = OrderFactory(status=source, confirmation_round=1)
    with pytest.raises(ApplicationError, match="^Only "):
        service(order_id=order.pk, by=SellerFactory(), **kwargs)
    order.refresh_from_db()
    assert order.status == source


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_a_transition_from_a_status_it_does_not_leave_is_refused(case):
    service, kwargs, source, _, who, _ = case
    wrong = S.CANCELED if source != S.CANCELED else S.COMPLETED
    order = OrderFactory(status=wrong, confirmation_round=1)
    with pytest.raises(ApplicationError, match="cannot be .* now"):
        service(order_id=order.pk, by=getattr(order, who), **kwargs)
    order.refresh_from_db()
    assert order.status == wrong


def test_the_model_itself_refuses_a_transition_from_the_wrong_status():
    order = OrderFactory(status=S.COMPLETED)
    with pytest.raises(TransitionNotAllowed):
        order.mark_delivered()


def test_the_status_field_cannot_be_assigned_directly():
    order = OrderFactory(status=S.PAID)
    with pytest.raises(AttributeError):
        order.status = S.COMPLETED


def test_pay_is_taken_only_by_the_system_and_emails_the_seller(
    mailoutbox, django_capture_on_commit_callbacks
):
    order = OrderFactory()
    with pytest.raises(ApplicationError):
        services._apply(order_id=order.pk, name="pay", by=order.buyer)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_pay(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == S.PAID and order.paid_at is not None
    assert [m.to for m in mailoutbox] == [[order.seller.email]]
    assert "New paid order" in mailoutbox[0].subject


def test_mark_delivered_starts_round_one_and_emails_the_buyer_both_links(
    mailoutbox, django_capture_on_commit_callbacks
):
    order = OrderFactory(status=S.SHIPPED)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_mark_delivered(order_id=order.pk, by=order.seller)
    order.refresh_from_db()
    assert order.confirmation_round == 1
    [email] = mailoutbox
    assert email.to == [order.buyer.email]
    html = email.alternatives[0][0]
    assert "I have received the item" in email.body and "I have NOT received the item" in email.body
    assert "I have received the item" in html and f"/confirm/{order.pk}/" in html


def test_resolving_starts_the_next_round_and_sends_a_second_email(
    mailoutbox, django_capture_on_commit_callbacks
):
    order = OrderFactory(awaiting_seller=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_resolve_and_confirm_delivery(order_id=order.pk, by=order.seller)
    order.refresh_from_db()
    assert (order.status, order.confirmation_round) == (S.PENDING_CUSTOMER_CONFIRMATION, 2)
    assert "sorted out" in mailoutbox[0].body


def test_not_received_puts_the_message_on_the_timeline_and_emails_the_seller(
    mailoutbox, django_capture_on_commit_callbacks
):
    order = OrderFactory(awaiting_buyer=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_report_not_received(
            order_id=order.pk, by=order.buyer, message="Tracking says delivered"
        )
    assert StateLog.objects.for_(order).latest().description == "Tracking says delivered"
    [email] = mailoutbox
    assert email.to == [order.seller.email] and "Tracking says delivered" in email.body


def test_the_plain_text_email_carries_the_message_as_typed_and_the_html_one_escapes_it(
    mailoutbox, django_capture_on_commit_callbacks
):
    order = OrderFactory(awaiting_buyer=True, buyer__full_name="Zoë O'Brien & Co")
    typed = "It's lost & broken <b>twice</b>"
    with django_capture_on_commit_callbacks(execute=True):
        services.order_report_not_received(order_id=order.pk, by=order.buyer, message=typed)
    [email] = mailoutbox
    assert typed in email.body and "Zoë O'Brien & Co says" in email.body
    assert "&#x27;" not in email.body and "&amp;" not in email.body
    html = email.alternatives[0][0]
    assert "It&#x27;s lost &amp; broken &lt;b&gt;twice&lt;/b&gt;" in html


def test_a_message_over_1000_characters_is_refused_and_nothing_changes():
    order = OrderFactory(awaiting_buyer=True)
    with pytest.raises(ApplicationError, match="under 1,000"):
        services.order_report_not_received(order_id=order.pk, by=order.buyer, message="x" * 1001)
    order.refresh_from_db()
    assert order.status == S.PENDING_CUSTOMER_CONFIRMATION


def test_confirm_received_records_completed_at_and_hands_the_order_to_payouts_once():
    order = OrderFactory(awaiting_buyer=True)
    with mock.patch("payouts.services.earning_create_for_completed_order") as handover:
        services.order_confirm_received(order_id=order.pk, by=order.buyer)
    order.refresh_from_db()
    assert order.completed_at is not None
    handover.assert_called_once()
    assert handover.call_args.kwargs["order"].pk == order.pk


def test_if_the_payout_handover_fails_the_order_is_not_completed():
    order = OrderFactory(awaiting_buyer=True)
    with mock.patch(
        "payouts.services.earning_create_for_completed_order", side_effect=RuntimeError("ledger")
    ):
        with pytest.raises(RuntimeError):
            services.order_confirm_received(order_id=order.pk, by=order.buyer)
    order.refresh_from_db()
    assert order.status == S.PENDING_CUSTOMER_CONFIRMATION and order.completed_at is None


def test_refund_needs_a_reason_and_hands_the_order_to_payouts():
    order = OrderFactory(completed=True)
    with pytest.raises(ApplicationError, match="reason"):
        services.order_refund(order_id=order.pk, by=order.seller, reason="  ")
    with mock.patch("payouts.services.earning_reverse_for_refunded_order") as reverse:
        services.order_refund(order_id=order.pk, by=order.seller, reason="Broken on arrival")
    order.refresh_from_db()
    assert (order.status, order.refund_reason) == (S.REFUNDED, "Broken on arrival")
    reverse.assert_called_once()


def test_a_failed_email_does_not_undo_the_change(django_capture_on_commit_callbacks, settings):
    settings.POST_OFFICE = {
        **settings.POST_OFFICE,
        "BACKENDS": {"default": "orders.tests.test_services.BrokenEmailBackend"},
    }
    order = OrderFactory(status=S.SHIPPED)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_mark_delivered(order_id=order.pk, by=order.seller)
    order.refresh_from_db()
    assert order.status == S.PENDING_CUSTOMER_CONFIRMATION
    # The outbox's sender queues the email to be tried again later.
    [email] = Email.objects.filter(to=order.buyer.email)
    assert email.status == STATUS.requeued and email.scheduled_time > timezone.now()
    assert "mail server is down" in email.logs.get().message


class BrokenEmailBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise OSError("mail server is down")


def test_an_admin_acts_for_a_party_only_with_a_reason_and_is_named_in_the_log():
    order = OrderFactory(status=S.PAID)
    admin = StaffFactory()
    with pytest.raises(ApplicationError, match="reason"):
        services.order_mark_shipped(order_id=order.pk, by=admin, on_behalf_of="seller")
    services.order_mark_shipped(order_id=order.pk, by=admin, on_behalf_of="seller", reason="Seller phoned in")
    log = StateLog.objects.for_(order).latest()
    assert log.by == admin
    assert log.description == f"By {admin.email} on behalf of the seller: Seller phoned in"


def test_a_non_staff_user_cannot_act_on_behalf_of_anyone():
    order = OrderFactory(status=S.PAID)
    with pytest.raises(ApplicationError, match="Only platform staff"):
        services.order_mark_shipped(
            order_id=order.pk, by=order.buyer, on_behalf_of="seller", reason="trust me"
        )


def test_staff_confirm_or_refund_directly_with_a_reason():
    order = OrderFactory(awaiting_buyer=True)
    admin = StaffFactory()
    with pytest.raises(ApplicationError, match="reason"):
        services.order_confirm_received(order_id=order.pk, by=admin)
    services.order_confirm_received(order_id=order.pk, by=admin, reason="Buyer confirmed by phone")
    order.refresh_from_db()
    assert order.status == S.COMPLETED


def test_a_stale_page_is_refused_with_the_current_state():
    order = OrderFactory(awaiting_buyer=True)
    services.order_confirm_received(order_id=order.pk, by=order.buyer)
    with pytest.raises(services.OrderChanged, match="it is now completed") as caught:
        services.order_refund(
            order_id=order.pk, by=order.seller, reason="x", expected_status=S.PENDING_CUSTOMER_CONFIRMATION
        )
    assert caught.value.order.status == S.COMPLETED


def test_place_order_totals_its_lines_in_minor_units():
    buyer, seller = BuyerFactory(), SellerFactory()
    order = services.order_place(
        buyer=buyer,
        seller=seller,
        currency="usd",
        items=[ItemLine("Mug", 3, 1999), ItemLine("Card", 1, 1)],
    )
    assert (order.status, order.total_amount, order.currency) == (S.PENDING_PAYMENT, 5998, "USD")
    assert order.items.count() == 2


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "at least one item"),
        ([ItemLine("Mug", 0, 100)], "quantity of at least 1"),
        ([ItemLine("Mug", 1, -5)], "price of zero or more"),
    ],
)
def test_place_order_refuses_bad_lines_and_creates_nothing(items, message):
    with pytest.raises(ApplicationError, match=message):
        services.order_place(buyer=BuyerFactory(), seller=SellerFactory(), currency="USD", items=items)
    assert not Order.objects.exists()


def test_every_order_transition_carries_its_verb_and_past_tense_and_who_may_take_it():
    words = transition_custom(Order)
    assert set(words) == set(services.WHO_MAY)
    for name, custom in words.items():
        assert custom.get("verb") and custom.get("past"), name


def test_refusals_name_the_parties_and_the_action_in_words():
    order = OrderFactory(status=S.PENDING_PAYMENT)
    with pytest.raises(ApplicationError) as refused:
        services.order_cancel(order_id=order.pk, by=order.seller)
    assert str(refused.value) == "Only platform staff or the buyer can cancel this order."
    order = OrderFactory(status=S.PAID)
    with pytest.raises(ApplicationError) as refused:
        services.order_mark_shipped(order_id=order.pk, by=order.buyer)
    assert str(refused.value) == "Only the seller can mark as shipped this order."
    with pytest.raises(ApplicationError) as refused:
        services.order_confirm_received(order_id=order.pk, by=order.buyer)
    assert str(refused.value) == "This order is paid, so it cannot be confirmed as received now."
