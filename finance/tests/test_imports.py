"""finance holds the settings only; payouts reads them. The dependency runs one way:
payouts imports finance, and finance imports nothing from payouts (nor from orders or
billing), not even inside a function."""

import ast
from pathlib import Path

FINANCE = Path(__file__).resolve().parent.parent
FORBIDDEN = {"payouts", "orders", "billing"}


def _imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            modules.add(node.args[0].value)
    return modules


def _finance_sources() -> list[Path]:
    return [
        path
        for path in sorted(FINANCE.rglob("*.py"))
        if not {"tests", "migrations"} & set(path.relative_to(FINANCE).parts[:-1])
    ]


def test_finance_imports_nothing_from_payouts_orders_or_billing():
    imports = {path.relative_to(FINANCE).as_posix(): _imported_modules(path) for path in _finance_sources()}
    assert "django.db" in imports["models.py"]  # the walk does see finance's imports
    offending = {
        name: sorted(m for m in modules if m.split(".")[0] in FORBIDDEN)
        for name, modules in imports.items()
        if any(m.split(".")[0] in FORBIDDEN for m in modules)
    }
    assert offending == {}
