"""
Stripe for billing: a re-export of `stripe_integration` (the stripe-python calls and
their results in `client`, the pacing in `pacer`, Connect in `connect`), kept so that
`from billing import gateway` and `gateway.<name>` go on working. New code should import
`stripe_integration` directly.

Every name here is the same object as in its module, so patching it here changes nothing
there: tests patch where the name lives (`stripe_integration.client.sleep`, ...).
"""

import stripe  # noqa: F401  (gateway.stripe.StripeError, as before)

from stripe_integration.client import (  # noqa: F401
    CardDetails,
    GatewayResult,
    GatewayUnavailable,
    _call,
    _configure,
    _error_result,
    _is_transport,
    _refund_result,
    charge,
    customer_create,
    payment_intent_cancel,
    payment_intent_result,
    payment_intent_retrieve,
    payment_method_attach,
    refund,
    refund_retrieve,
    refund_waiting,
    setup_intent_create,
    setup_intent_payment_method,
    setup_intent_retrieve,
    sleep,
)
from stripe_integration.connect import account_create, transfer_create, transfer_reverse  # noqa: F401
from stripe_integration.pacer import RatePacer, SharedRatePacer, pacer, pacer_url  # noqa: F401
