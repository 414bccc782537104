"""
Demo data for `manage.py seed_demo`. Every step looks its rows up by a natural key
before creating them, so running the command twice creates nothing new. Each app may add
its own demo data in `<app>/demo.py` as `seed(people, stdout)`; they run in
INSTALLED_APPS order after the people exist.
"""

from dataclasses import dataclass

from django.db import transaction

from accounts.models import User

from .app_modules import app_modules


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    role: str
    full_name: str


DEMO_LOGINS = [
    DemoLogin("admin@demo.test", "demo-admin-2026", User.Role.ADMIN, "Ada Admin"),
    DemoLogin("seller@demo.test", "demo-seller-2026", User.Role.SELLER, "Sam Seller"),
    DemoLogin("seller2@demo.test", "demo-seller-2026", User.Role.SELLER, "Sofia Second-Seller"),
    DemoLogin("seller3@demo.test", "demo-seller-2026", User.Role.SELLER, "Stella Stripe"),
    DemoLogin("seller4@demo.test", "demo-seller-2026", User.Role.SELLER, "Hal Halfway"),
    DemoLogin("seller5@demo.test", "demo-seller-2026", User.Role.SELLER, "Cora Cooling-Off"),
    DemoLogin("buyer@demo.test", "demo-buyer-2026", User.Role.BUYER, "Bea Buyer"),
    DemoLogin("buyer2@demo.test", "demo-buyer-2026", User.Role.BUYER, "Ben Second-Buyer"),
]


@dataclass
class DemoPeople:
    admin: User
    sellers: list
    buyers: list


def demo_people_seed() -> DemoPeople:
    users = {}
    for login in DEMO_LOGINS:
        user = User.objects.filter(email=login.email).first()
        if user is None:
            is_admin = login.role == User.Role.ADMIN
            user = User.objects.create_user(
                email=login.email,
                password=login.password,
                full_name=login.full_name,
                role=login.role,
                is_staff=is_admin,
                is_superuser=is_admin,
            )
        users[login.email] = user
    return DemoPeople(
        admin=users["admin@demo.test"],
        sellers=[u for u in users.values() if u.role == User.Role.SELLER],
        buyers=[u for u in users.values() if u.role == User.Role.BUYER],
    )


def demo_seed(*, stdout) -> DemoPeople:
    with transaction.atomic():
        people = demo_people_seed()
    for module in app_modules("demo"):
        if module.__name__ != __name__:
            module.seed(people=people, stdout=stdout)
    return people
