import pytest

from marketplace.money import format_money


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (123456, "USD", "$1,234.56"),
        (5, "EUR", "€0.05"),
        (-500, "EUR", "-€5.00"),
        (1500, "JPY", "¥1,500"),
        (1234, "KWD", "1.234 KWD"),
        (0, "chf", "0.00 CHF"),
    ],
)
def test_amounts_in_minor_units_are_shown_with_the_currency_exponent(amount, currency, shown):
    assert format_money(amount, currency) == shown
