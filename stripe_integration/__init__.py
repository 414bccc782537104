"""
Stripe in one place (DESIGN.md section 4): the stripe-python calls (`client`), their
pacing (`pacer`), Connect accounts and transfers (`connect`), and the webhook endpoint
with its event inbox (`webhooks`, `models`) and its dispatch table (`events`).

This package knows no business app. Business apps import it, and register in their
`AppConfig.ready()` one handler per Stripe event type they own (`events`).
"""
