import pytest

from marketplace.money import (
    currency_clean,
    currency_is_valid,
    format_money,
    from_stripe_amount,
    to_stripe_amount,
)


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


@pytest.mark.parametrize(
    ("amount", "currency", "stripe_amount"),
    [
        (1000, "USD", 1000),  # two-decimal both sides
        (500, "JPY", 500),  # zero-decimal both sides
        (1000, "ISK", 100000),  # ISO zero-decimal, Stripe keeps it two-decimal: 1,000 kr
        (5000, "MGA", 50),  # ISO two-decimal, Stripe zero-decimal: 50 ariary
        (1230, "KWD", 1230),  # three-decimal both sides, ending in 0
        (99900, "HUF", 99900),  # two-decimal in Stripe's charges
        (0, "EUR", 0),
    ],
)
def test_amounts_cross_the_stripe_boundary_in_stripes_units_and_come_back(amount, currency, stripe_amount):
    assert to_stripe_amount(amount, currency) == stripe_amount
    assert from_stripe_amount(stripe_amount, currency) == amount


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        (1235, "KWD", "last digit is 0"),
        (5050, "MGA", "whole units only"),
        (1000, "XXX", "not an ISO 4217 currency code"),
        (1000, "usdx", "not an ISO 4217 currency code"),
        (1000, "LYD", "Stripe does not take payments in LYD"),
        (-1, "USD", "zero or more"),
        (10.5, "USD", "whole number"),
    ],
)
def test_an_amount_stripe_cannot_take_is_refused_with_a_clear_message(amount, currency, message):
    with pytest.raises(ValueError, match=message):
        to_stripe_amount(amount, currency)


def test_a_stripe_amount_with_no_exact_iso_value_is_refused():
    with pytest.raises(ValueError, match="not a whole number of ISK"):
        from_stripe_amount(150, "ISK")


def test_currency_codes_are_checked_against_iso_4217():
    assert currency_clean(" eur ") == "EUR"
    assert currency_is_valid("CLF") and not currency_is_valid("ABC") and not currency_is_valid("XAU")
