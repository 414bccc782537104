"""
Seller pages, buyer pages and the pages behind the links in the buyer's email. Views
parse input and call one service; the service decides who may do what.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import seller_required
from marketplace.exceptions import ApplicationError
from marketplace.keyset import keyset_page
from marketplace.money import format_money

from . import services
from .forms import BuyerMessageForm, ExpectedStatusForm, MarkShippedForm, NotReceivedForm, RefundForm
from .links import RECEIVED, LinkProblem, confirmation_link_read
from .models import Order
from .selectors import buyer_orders_list, order_next_step, order_timeline, seller_orders_list
from .tracking import shipping_html

PAGE_SIZE = 25


def _act(request, order, service, success, **kwargs):
    """Call `service` and turn its outcome into a message for the person."""
    try:
        service(order_id=order.pk, by=request.user, **kwargs)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return False
    messages.success(request, success)
    return True


def _orders_page(request, orders):
    """The page of `orders` the "newer" / "older" link asked for; a broken link gets the
    newest page and a message."""
    try:
        return keyset_page(
            orders,
            size=PAGE_SIZE,
            older_than=request.GET.get("older_than"),
            newer_than=request.GET.get("newer_than"),
        )
    except ValueError as exc:
        messages.error(request, str(exc))
        return keyset_page(orders, size=PAGE_SIZE)


def _form_errors(request, form):
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)


# --- seller ----------------------------------------------------------------------------


@seller_required
def seller_orders(request):
    status = request.GET.get("status") or None
    if status not in {None, *Order.Status.values}:
        messages.error(request, "There is no such order status; showing all orders.")
        status = None
    page = _orders_page(request, seller_orders_list(seller=request.user, status=status))
    return render(
        request,
        "orders/seller_orders.html",
        {"page": page, "status": status, "statuses": Order.Status.choices},
    )


@seller_required
def seller_order(request, order_id):
    order = get_object_or_404(
        Order.objects.select_related("buyer").prefetch_related("items"), pk=order_id, seller=request.user
    )
    return render(
        request,
        "orders/seller_order.html",
        {
            "order": order,
            "timeline": order_timeline(order=order),
            "allowed": services.order_allowed_transitions(order=order, user=request.user),
            "next_step": order_next_step(order=order, viewer="seller"),
            "shipping": shipping_html(order),
            "ship_form": MarkShippedForm(initial={"expected_status": order.status}),
        },
    )


@seller_required
@require_POST
def seller_order_action(request, order_id, action):
    order = get_object_or_404(Order, pk=order_id, seller=request.user)
    simple = {
        "mark-delivered": (
            services.order_mark_delivered,
            "Marked as delivered. The buyer has been asked to confirm.",
        ),
        "resolve": (
            services.order_resolve_and_confirm_delivery,
            "Marked as resolved. The buyer has been asked to confirm again.",
        ),
    }
    if action == "mark-shipped":
        form = MarkShippedForm(request.POST)
        if form.is_valid():
            _act(request, order, services.order_mark_shipped, "Marked as shipped.", **form.cleaned_data)
        else:
            _form_errors(request, form)
    elif action in simple:
        form = ExpectedStatusForm(request.POST)
        if form.is_valid():
            service, success = simple[action]
            _act(request, order, service, success, **form.cleaned_data)
        else:
            _form_errors(request, form)
    else:
        raise PermissionDenied("Unknown action.")
    return redirect("orders:seller_order", order_id=order.pk)


@seller_required
@require_http_methods(["GET", "HEAD", "POST"])
def seller_order_refund(request, order_id):
    """Refunding asks for a reason and a confirmation on its own page first."""
    order = get_object_or_404(Order.objects.select_related("buyer"), pk=order_id, seller=request.user)
    if request.method == "POST":
        form = RefundForm(request.POST, order=order)
        if form.is_valid():
            data = form.cleaned_data
            amount = format_money(data["amount"], order.currency)
            partial = data["amount"] < order.refundable_amount
            _act(
                request,
                order,
                services.order_refund,
                f"Refund of {amount} sent{' (part of the order)' if partial else ''}. "
                "The buyer is told once their bank has it.",
                reason=data["reason"],
                amount=data["amount"],
                expected_status=data["expected_status"],
            )
            return redirect("orders:seller_order", order_id=order.pk)
    else:
        form = RefundForm(initial={"expected_status": order.status}, order=order)
    return render(request, "orders/seller_refund.html", {"order": order, "form": form})


# --- buyer, signed in ------------------------------------------------------------------


@login_required
def buyer_orders(request):
    page = _orders_page(request, buyer_orders_list(buyer=request.user))
    return render(request, "orders/buyer_orders.html", {"page": page})


@login_required
def buyer_order(request, order_id):
    order = get_object_or_404(
        Order.objects.select_related("seller").prefetch_related("items"), pk=order_id, buyer=request.user
    )
    return render(
        request,
        "orders/buyer_order.html",
        {
            "order": order,
            "timeline": order_timeline(order=order),
            "next_step": order_next_step(order=order, viewer="buyer"),
            "shipping": shipping_html(order),
            "not_received_form": NotReceivedForm(initial={"expected_status": order.status}),
        },
    )


@login_required
@require_POST
def buyer_order_action(request, order_id, action):
    order = get_object_or_404(Order, pk=order_id, buyer=request.user)
    form = NotReceivedForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
    elif action == "received":
        _act(
            request,
            order,
            services.order_confirm_received,
            "Thank you: the order is completed.",
            expected_status=form.cleaned_data["expected_status"],
        )
    elif action == "not-received":
        _act(
            request,
            order,
            services.order_report_not_received,
            "We have told the seller. They will get in touch to sort it out.",
            **form.cleaned_data,
        )
    else:
        raise PermissionDenied("Unknown action.")
    return redirect("orders:buyer_order", order_id=order.pk)


# --- buyer, from the email link -----------------------------------------------------------


@never_cache  # a page reached by a signed link: no browser or proxy keeps it
@require_http_methods(["GET", "HEAD", "POST"])
def confirmation_link(request, order_id, token):
    """GET and HEAD only show the order and one button; only the POST acts, so a mail
    scanner opening the link changes nothing. The link acts as the order's buyer."""
    try:
        link = confirmation_link_read(order_id=order_id, token=token)
    except LinkProblem as problem:
        return render(request, "orders/link_problem.html", {"problem": problem}, status=problem.status)
    order = link.order
    context = {"order": order, "link": link, "form": BuyerMessageForm(), "done": None}
    # The "received" link of the latest round still works after the buyer reported the
    # item missing: the parcel may turn up while the seller looks into it.
    answerable = {Order.Status.PENDING_CUSTOMER_CONFIRMATION}
    if link.answer == RECEIVED:
        answerable.add(Order.Status.PENDING_SELLER_ACTION)
    context["after_report"] = order.status == Order.Status.PENDING_SELLER_ACTION
    if order.status not in answerable:
        # The round is current but no longer open: this link (or its twin) was used.
        context["already_answered"] = True
        return render(
            request, "orders/link_page.html", context, status=409 if request.method == "POST" else 200
        )

    if request.method == "POST":
        form = BuyerMessageForm(request.POST)
        if not form.is_valid():
            context["form"] = form
            return render(request, "orders/link_page.html", context, status=400)
        try:
            if link.answer == RECEIVED:
                order = services.order_confirm_received(
                    order_id=order.pk, by=order.buyer, expected_status=order.status, expected_round=link.round
                )
            else:
                order = services.order_report_not_received(
                    order_id=order.pk,
                    by=order.buyer,
                    message=form.cleaned_data["message"],
                    expected_status=Order.Status.PENDING_CUSTOMER_CONFIRMATION,
                    expected_round=link.round,
                )
        except services.OrderChanged as exc:
            context.update(order=exc.order, already_answered=True)
            return render(request, "orders/link_page.html", context, status=409)
        except ApplicationError as exc:
            problem = LinkProblem("This link cannot be used", exc.message, 409)
            return render(request, "orders/link_problem.html", {"problem": problem}, status=409)
        context.update(order=order, done=link.answer)
    return render(request, "orders/link_page.html", context)
