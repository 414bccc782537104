"""
The page behind the link in billing emails: see what is owed and add a card with
Stripe's Elements (served from STRIPE_API_BASE, so localstripe's copy in development).
The card is saved through a SetupIntent (off-session use, 3-D Secure handled by
Stripe.js), asked for (`card_setup`) only once the customer starts typing a card, and
reused while open; the POST then charges every invoice that was waiting for a card.

Every Stripe call these views cause is counted against a per-invoice limit
(services.card_page), and no answer is stored by a browser or proxy (Cache-Control:
no-store): the page shows money owed and carries secrets for Stripe.js.
"""

import logging

from django.conf import settings
from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from marketplace.exceptions import ApplicationError

from . import gateway, selectors, services
from .invoice_owners import invoice_describe
from .links import LinkProblem, card_update_invoice, receipt_from_token, receipt_token
from .models import Invoice, Receipt
from .services.card_page import (
    TOO_MANY_CALLS,
    TooManyStripeCalls,
    card_page_stripe_calls_reserve,
    card_setup_start,
    card_setup_used,
)

logger = logging.getLogger(__name__)
OPEN = {Invoice.Status.INIT, Invoice.Status.PROCESSING, Invoice.Status.PROCESS_FAILED}
NOT_ANSWERING = "The payment service is not answering right now. Reload this page in a minute."


def _status(context: dict) -> int:
    if not context.get("error"):
        return 200
    return 429 if context["error"] == TOO_MANY_CALLS else 400


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def update_card(request, token):
    try:
        invoice = card_update_invoice(token)
    except LinkProblem as problem:
        return render(request, "billing/link_problem.html", {"problem": problem}, status=problem.status)
    customer = invoice.customer
    context = {"invoice": invoice, "customer": customer, "token": token, "open": invoice.status in OPEN}
    if request.method == "POST" and context["open"] and "payment_intent" in request.POST:
        try:
            card_page_stripe_calls_reserve(invoice_id=invoice.pk, what="payment intent retrieve")
            services.invoice_payment_authenticated(
                invoice_id=invoice.pk, payment_intent_id=request.POST["payment_intent"]
            )
        except (ApplicationError, gateway.GatewayUnavailable, gateway.stripe.StripeError) as exc:
            context["error"] = str(exc) if isinstance(exc, ApplicationError) else NOT_ANSWERING
        else:
            messages.success(request, "Your bank confirmed the payment. Thank you.")
            return redirect("billing:update_card", token=token)
    elif request.method == "POST" and context["open"]:
        setup_intent_id = request.POST.get("setup_intent", "")
        try:
            # Reading the SetupIntent back and attaching its card.
            card_page_stripe_calls_reserve(invoice_id=invoice.pk, what="card save", calls=2)
            pm_id = gateway.setup_intent_payment_method(
                setup_intent_id=setup_intent_id,
                customer_id=services.customer_stripe_id(customer=customer),
            )
            pm = services.payment_method_add(customer=customer, stripe_payment_method_id=pm_id)
        except (ValueError, ApplicationError, gateway.GatewayUnavailable, gateway.stripe.StripeError) as exc:
            message = (
                str(exc)
                if isinstance(exc, (ValueError, ApplicationError))
                else ("The payment service did not accept the card. Try again in a minute.")
            )
            context["error"] = message
        else:
            card_setup_used(invoice=invoice, setup_intent_id=setup_intent_id)
            # Not "paid" yet: the page says so once the bank has answered (it asks
            # `card_status` until then).
            messages.info(request, f"{pm} saved.")
            return redirect("billing:update_card", token=token)
    if context["open"] and request.method != "HEAD":
        _offer_authentication(invoice, context)
    context["stripe_js"] = settings.STRIPE_JS_URL
    context["publishable_key"] = settings.STRIPE_PUBLISHABLE_KEY
    context["payment"] = selectors.invoice_payment_status(context["invoice"])
    if context["payment"].receipt:
        context["receipt_token"] = receipt_token(context["payment"].receipt)
    context["description"] = invoice_describe(invoice)
    context["lines"] = invoice.lines.all()
    return render(request, "billing/update_card.html", context, status=_status(context))


@never_cache
@require_http_methods(["GET", "HEAD"])
def card_status(request, token):
    """What the card page shows while it waits for the bank: asked every few seconds
    until the answer is in. Changes nothing."""
    try:
        invoice = card_update_invoice(token)
    except LinkProblem as problem:
        return JsonResponse({"error": problem.title}, status=problem.status)
    payment = selectors.invoice_payment_status(invoice)
    return JsonResponse({"state": payment.state, "waiting": payment.waiting, "headline": payment.headline})


@require_http_methods(["GET", "HEAD"])
def receipt(request, token):
    """A receipt, printable, behind the signed link in the receipt email."""
    try:
        found = receipt_from_token(token)
    except LinkProblem as problem:
        return render(request, "billing/link_problem.html", {"problem": problem}, status=problem.status)
    return render(request, "billing/receipt.html", receipt_context(found))


def receipt_context(found: Receipt) -> dict:
    invoice = found.invoice
    return {
        "receipt": found,
        "invoice": invoice,
        "description": invoice_describe(invoice),
        "lines": invoice.lines.all(),
        "customer": invoice.customer.user,
        "payment_receipt": invoice.receipts.filter(kind=Receipt.Kind.PAYMENT).first()
        if found.kind == Receipt.Kind.REFUND
        else None,
    }


@never_cache
@require_POST
def card_setup(request, token):
    """The card form's SetupIntent, asked for by the page's script when the customer
    starts typing a card: JSON `{"client_secret": ...}`, or `{"error": ...}` with 429 when
    the link has asked Stripe too often this minute, 503 when Stripe does not answer."""
    try:
        invoice = card_update_invoice(token)
    except LinkProblem as problem:
        return JsonResponse({"error": problem.message}, status=problem.status)
    if invoice.status not in OPEN:
        return JsonResponse({"error": "This invoice has nothing left to pay."}, status=409)
    try:
        return JsonResponse({"client_secret": card_setup_start(invoice=invoice)})
    except TooManyStripeCalls as exc:
        return JsonResponse({"error": exc.message}, status=429)
    except (gateway.GatewayUnavailable, gateway.stripe.StripeError):
        logger.exception("Could not start a card setup for %s", invoice)
        return JsonResponse({"error": NOT_ANSWERING}, status=503)


def _offer_authentication(invoice: Invoice, context: dict) -> None:
    """When the invoice failed because the bank wants the customer to confirm the payment,
    hand the page that PaymentIntent's client secret for Stripe.js, as the charge's answer
    gave it. Showing the page asks Stripe nothing and writes nothing, so a mail scanner or
    a reload cannot spend the invoice's Stripe calls: only the customer's POST does (a
    payment already confirmed in another tab is then found confirmed and settles)."""
    attempt = services.invoice_attempt_awaiting_authentication(invoice)
    if attempt is not None and attempt.client_secret:
        context["authenticate"] = {
            "payment_intent": attempt.stripe_id,
            "client_secret": attempt.client_secret,
        }
