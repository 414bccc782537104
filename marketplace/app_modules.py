from importlib import import_module
from types import ModuleType

from django.apps import apps


def app_modules(module_name: str) -> list[ModuleType]:
    """`<app>.<module_name>` for every installed app that has one, in INSTALLED_APPS order.
    How the platform collects each app's periodic tasks and demo data."""
    found = []
    for config in apps.get_app_configs():
        dotted = f"{config.name}.{module_name}"
        try:
            found.append(import_module(dotted))
        except ModuleNotFoundError as exc:
            if exc.name != dotted:
                raise  # the module exists but something it imports does not
    return found
