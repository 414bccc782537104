"""
The apps depend one way (DESIGN.md section 4; README "Architecture"): orders uses billing
and payouts; payouts reads finance's settings; billing knows neither orders nor payouts
and tells an invoice's owner what happened through `billing.invoice_owners`; Stripe lives
in `stripe_integration`, which calls no business app except through its dispatch table.

This walks every import statement of the product's own modules (at any depth: an import
inside a function counts just as much) and checks those rules. Tests are left out: a test
may set up the world through any app. A model named by string in a foreign key
("orders.Order") is not an import and is not seen here.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ["marketplace", "stripe_integration", "accounts", "finance", "billing", "payouts", "orders"]
BUSINESS = {"orders", "billing", "payouts", "finance"}
# The project package is also where the product is assembled: its URLs, settings and
# Celery app name the apps (as strings), and seed_demo runs every app's demo. These
# modules sit above every app; the rest of `marketplace` (money, exceptions, emails,
# locking, ...) sits below them and imports no app.
COMPOSITION_ROOT = {"marketplace.urls", "marketplace.demo", "marketplace.management.commands.seed_demo"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _product_modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            rel = path.relative_to(ROOT).parts
            if "tests" in rel or "migrations" in rel:
                continue
            yield _module_name(path), path


def _imports(module: str, path: Path) -> set[str]:
    """The absolute names every import statement of the module brings in."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            found.add(target)
    return found


def _app_of(name: str) -> str | None:
    top = name.split(".")[0]
    return top if top in APPS else None


@pytest.fixture(scope="module")
def edges() -> dict[tuple[str, str], list[str]]:
    """(importing app, imported app) → the importing modules, for every cross-app import."""
    found: dict[tuple[str, str], list[str]] = {}
    for module, path in _product_modules():
        if module in COMPOSITION_ROOT:
            continue
        here = _app_of(module)
        for name in _imports(module, path):
            there = _app_of(name)
            if there and there != here:
                found.setdefault((here, there), []).append(f"{module} imports {name}")
    return found


def test_the_walk_sees_the_imports_it_should(edges):
    # Guards against a walk that finds nothing and so passes everything.
    assert ("orders", "billing") in edges
    assert ("payouts", "finance") in edges
    assert ("billing", "stripe_integration") in edges


def test_billing_imports_nothing_from_orders_or_payouts(edges):
    offending = edges.get(("billing", "orders"), []) + edges.get(("billing", "payouts"), [])
    assert offending == []


def test_the_stripe_package_and_the_platform_modules_import_no_business_app(edges):
    offending = [
        line
        for (here, there), lines in edges.items()
        if here in ("stripe_integration", "marketplace", "accounts") and there in BUSINESS
        for line in lines
    ]
    assert offending == []


def test_finance_holds_settings_and_imports_no_other_business_app(edges):
    offending = [
        line
        for (here, there), lines in edges.items()
        if here == "finance" and there in BUSINESS
        for line in lines
    ]
    assert offending == []


def test_no_two_apps_import_each_other_directly_or_round_a_loop(edges):
    graph: dict[str, set[str]] = {}
    for here, there in edges:
        graph.setdefault(here, set()).add(there)

    def reaches(start, goal, seen=()):
        return any(
            nxt == goal or (nxt not in seen and reaches(nxt, goal, (*seen, nxt)))
            for nxt in graph.get(start, ())
        )

    loops = sorted(app for app in graph if reaches(app, app))
    assert loops == [], {
        (here, there): lines for (here, there), lines in edges.items() if here in loops and there in loops
    }
