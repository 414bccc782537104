"""Billing customers and their Stripe customer ids."""

from django.conf import settings

from .. import gateway
from ..models import Customer


def customer_get_or_create(*, user) -> Customer:
    customer, _ = Customer.objects.get_or_create(user=user)
    return customer


def customer_stripe_id(*, customer: Customer) -> str:
    """The customer's Stripe id, creating the Stripe customer (idempotently) if needed."""
    if customer.stripe_customer_id:
        return customer.stripe_customer_id
    stripe_id = gateway.customer_create(
        email=customer.user.email,
        user_id=customer.user_id,
        idempotency_key=f"{settings.STRIPE_IDEMPOTENCY_NAMESPACE}:customer-{customer.pk}",
    )
    Customer.objects.filter(pk=customer.pk, stripe_customer_id__isnull=True).update(
        stripe_customer_id=stripe_id
    )
    customer.refresh_from_db(fields=["stripe_customer_id"])
    return customer.stripe_customer_id
