from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from accounts.tests.factories import SellerFactory
from billing.tests.conftest import billing  # noqa: F401  (payouts tests that go through Stripe)
from finance.models import PayoutCycleSettings
from orders import services as orders
from orders.tests.factories import OrderFactory
from payouts import payout_accounts, services
from payouts.models import Payout, PayoutAccount

from .factories import PayoutAccountFactory


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


class Payouts:
    """Drive the product the way its users do: buyers confirm receipt, sellers refund,
    beat runs payouts, admins mark them paid or failed."""

    def configure(self, **values) -> PayoutCycleSettings:
        config = PayoutCycleSettings.load()
        for name, value in values.items():
            setattr(config, name, value)
        config.full_clean()
        config.save()
        return config

    def seller(self, **kwargs):
        """A seller who set up bank details long ago: payout runs can pay them."""
        seller = SellerFactory(**kwargs)
        PayoutAccountFactory(seller=seller)
        return seller

    def stripe_seller(self, stripe_server, *, complete: bool = True):
        """A seller who chose Stripe Connect and went through the (local) onboarding page:
        everything submitted, or (`complete=False`) the ID document left due."""
        seller = SellerFactory()
        url = payout_accounts.payout_account_stripe_onboarding_start(seller=seller, password="")
        stripe_server.onboard(url, "complete" if complete else "partial")
        payout_accounts.payout_account_stripe_sync(
            stripe_account_id=PayoutAccount.objects.get(seller=seller).stripe_account_id
        )
        return seller

    def complete(self, *, at: datetime, seller=None, amount: int = 10_000, currency: str = "USD"):
        """An order the buyer confirms at `at`; returns the order."""
        order = OrderFactory(
            awaiting_buyer=True, seller=seller or self.seller(), total_amount=amount, currency=currency
        )
        with time_machine.travel(at, tick=False):
            orders.order_confirm_received(order_id=order.pk, by=order.buyer)
        return order

    def refund(self, order, *, at: datetime, reason="Arrived broken"):
        with time_machine.travel(at, tick=False):
            return orders.order_refund(order_id=order.pk, by=order.seller, reason=reason)

    def run(self, day: date, **kwargs):
        with time_machine.travel(datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=1)):
            return services.payout_run_create(payout_date=day, **kwargs)

    def payouts(self, **filters):
        return list(Payout.objects.filter(**filters).order_by("payout_date", "seller_id", "currency"))


@pytest.fixture
def payouts(db):
    return Payouts()
