"""
Money is an integer count of the currency's minor unit plus an ISO-4217 code, never a
float. This module validates currency codes, formats amounts for people, and converts
them to and from Stripe's units at the Stripe boundary; arithmetic stays in integers.
"""

import re

# Every active ISO 4217 currency with a minor unit, and its exponent (source: ISO 4217
# list one, as published by SIX, the maintenance agency). Funds codes with no minor unit
# (precious metals, XDR, test codes) are not money here and are refused.
_TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD "
    "FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD "
    "KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD "
    "NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP "
    "SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED "
    "VES WST XCD XCG YER ZAR ZMW ZWG"
).split()
_EXPONENTS = {
    **dict.fromkeys(_TWO, 2),
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}

# Stripe's API units differ from ISO's for some currencies (source:
# https://docs.stripe.com/currencies, "Zero-decimal currencies", "Three-decimal
# currencies" and "Special cases"; and Stripe's note on ISK of April 2023).
_STRIPE_ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
# Three-decimal at Stripe, and the last digit must be 0 (Stripe's payment partners).
_STRIPE_THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())
# ISK is zero-decimal in ISO 4217 but stays two-decimal in Stripe's API: 1 krona is 100.
_STRIPE_TWO_DECIMAL_SPECIAL = frozenset({"ISK"})
# ISO codes Stripe does not take: funds codes (units of account, not money a card pays),
# currencies under sanctions, and the two three-decimal currencies missing from Stripe's
# lists of presentment currencies.
_STRIPE_UNSUPPORTED = frozenset("BOV CHE CHW CLF COU MXV USN UYI UYW CUP IRR KPW SDG SYP IQD LYD".split())


def currency_is_valid(currency: str) -> bool:
    """True for an active ISO 4217 code with a minor unit (upper case, as stored)."""
    return isinstance(currency, str) and currency in _EXPONENTS


def currency_clean(currency: str) -> str:
    """The stored form of a currency code a person or a webhook typed: upper case, and an
    active ISO 4217 code, or ValueError with a message meant for people."""
    code = (currency or "").strip().upper()
    if not currency_is_valid(code):
        raise ValueError(f"“{currency}” is not an ISO 4217 currency code (such as USD, EUR or JPY).")
    return code


def _stripe_exponent(currency: str) -> int:
    if currency in _STRIPE_ZERO_DECIMAL:
        return 0
    if currency in _STRIPE_THREE_DECIMAL:
        return 3
    return 2


def to_stripe_amount(amount: int, currency: str) -> int:
    """An amount in ISO 4217 minor units as Stripe's API wants it.

    `to_stripe_amount(1000, "ISK")` → 100000 (1,000 krónur; Stripe keeps ISK two-decimal);
    `to_stripe_amount(5000, "MGA")` → 50 (50 ariary; Stripe's MGA is zero-decimal);
    `to_stripe_amount(1000, "USD")` → 1000. Raises ValueError for an unknown currency, one
    Stripe does not take, a negative or non-integer amount, and an amount Stripe cannot
    represent (a fraction of an MGA, a three-decimal amount not ending in 0)."""
    code = currency_clean(currency)
    if code in _STRIPE_UNSUPPORTED:
        raise ValueError(f"Stripe does not take payments in {code}.")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError(f"An amount must be a whole number of minor units, zero or more; got {amount!r}.")
    shift = _stripe_exponent(code) - _EXPONENTS[code]
    if shift >= 0:
        stripe_amount = amount * 10**shift
    else:
        unit = 10**-shift
        if amount % unit:
            raise ValueError(
                f"Stripe takes {code} in whole units only; {format_money(amount, code)} has a fraction."
            )
        stripe_amount = amount // unit
    if code in _STRIPE_THREE_DECIMAL and stripe_amount % 10:
        raise ValueError(
            f"Stripe takes {code} amounts whose last digit is 0; {format_money(amount, code)} is not one."
        )
    return stripe_amount


def from_stripe_amount(stripe_amount: int, currency: str) -> int:
    """An amount in Stripe's API units back in ISO 4217 minor units: the inverse of
    `to_stripe_amount`. Raises ValueError for an unknown currency and for an amount with
    no exact ISO value (an ISK amount that is not whole krónur)."""
    code = currency_clean(currency)
    if isinstance(stripe_amount, bool) or not isinstance(stripe_amount, int):
        raise ValueError(f"A Stripe amount must be a whole number; got {stripe_amount!r}.")
    shift = _stripe_exponent(code) - _EXPONENTS[code]
    if shift <= 0:
        return stripe_amount * 10**-shift
    unit = 10**shift
    if stripe_amount % unit:
        raise ValueError(f"Stripe's {stripe_amount} {code} is not a whole number of {code} minor units.")
    return stripe_amount // unit


_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def currency_exponent(currency: str) -> int:
    """The ISO 4217 minor-unit exponent (2 for a code this module does not know, so that
    formatting never fails on old data)."""
    return _EXPONENTS.get(currency.upper(), 2)


def format_money(amount: int, currency: str) -> str:
    """`format_money(123456, "USD")` → "$1,234.56"; `format_money(-500, "EUR")` → "-€5.00"."""
    currency = currency.upper()
    exponent = currency_exponent(currency)
    sign = "-" if amount < 0 else ""
    units, minor = divmod(abs(int(amount)), 10**exponent)
    number = f"{units:,}" + (f".{minor:0{exponent}d}" if exponent else "")
    symbol = _SYMBOLS.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency}"


def amount_plain(amount: int, currency: str) -> str:
    """`amount_plain(123456, "USD")` → "1234.56": for files a bank reads (no symbol, no separators)."""
    exponent = currency_exponent(currency.upper())
    sign = "-" if amount < 0 else ""
    units, minor = divmod(abs(int(amount)), 10**exponent)
    return f"{sign}{units}" + (f".{minor:0{exponent}d}" if exponent else "")


_GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")


def thousands_separators_ok(text: str) -> bool:
    """False when `text` has a comma that is not a thousands separator ("12,50", "0,5"):
    read without it, a decimal comma would make the amount a hundred times more."""
    return "," not in text or bool(_GROUPED.fullmatch(text.strip()))


def amount_parse(text: str, currency: str) -> int:
    """What a person typed as an amount of `currency`, in minor units: "12.50" in USD →
    1250, "1,250" in JPY → 1250. ValueError, with a message for that person, for anything
    else: not a number, zero or less, or more decimals than the currency has (never
    rounded: 10.005 USD is neither 10.00 nor 10.01)."""
    from decimal import Decimal, InvalidOperation

    currency = currency.upper()
    exponent = currency_exponent(currency)
    example = f"{Decimal(1250).scaleb(-exponent):f}"
    raw = (text or "").strip()
    cleaned = raw.removeprefix(_SYMBOLS.get(currency, "\0"))
    if not thousands_separators_ok(cleaned):
        raise ValueError(f"“{raw}” is not an amount. Write it like {example}.")
    try:
        value = Decimal(cleaned.replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"“{raw}” is not an amount. Write it like {example}.") from None
    # NaN and Infinity are Decimals too, and no amount of money; nor is 1E+999999.
    if not value.is_finite() or value.adjusted() >= 15:
        raise ValueError(f"“{raw}” is not an amount. Write it like {example}.")
    if value <= 0:
        raise ValueError(f"The amount must be more than zero, like {example}.")
    minor = value.scaleb(exponent)
    if minor != minor.to_integral_value():
        if exponent == 0:
            raise ValueError(f"{currency} amounts have no decimals: write a whole number, like {example}.")
        raise ValueError(
            f"{currency} amounts have at most {exponent} decimal{'s' if exponent != 1 else ''}, like {example}."
        )
    return int(minor)
