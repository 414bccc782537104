"""
Stripe webhooks: a re-export. The endpoint (`/webhooks/stripe/`), its event inbox and
the dispatch by event type are `stripe_integration.webhooks`; billing's handlers for
payments and refunds are `billing.stripe_events`.
"""

from stripe_integration.webhooks import stripe_webhook, webhook_event_apply  # noqa: F401
