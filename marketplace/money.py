"""
Money is an integer count of the currency's minor unit plus an ISO-4217 code, never a
float. This module only formats it for people; arithmetic stays in integers.
"""

# ISO 4217 minor-unit exponents that differ from the usual 2 (source: ISO 4217 list of
# currency codes, as published by SIX, the maintenance agency).
_EXPONENTS = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def currency_exponent(currency: str) -> int:
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
