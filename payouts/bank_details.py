"""
Bank details a seller types, checked before anything is stored: an IBAN (with a BIC where
one is needed) with `schwifty`, or a US routing and account number, the routing number's
ABA checksum checked with `python-stdnum` (`stdnum.us.rtn`). Both are maintained
libraries made for exactly this; nothing here re-implements their rules.

`bank_details_clean` returns the details in their stored form (compact, upper case) or
raises `BankDetailsInvalid` with one message per bad field, meant for the seller.
"""

import re
from dataclasses import dataclass

from schwifty import BIC, IBAN
from schwifty.exceptions import (
    InvalidBBANChecksum,
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    InvalidStructure,
    SchwiftyException,
)
from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.us import rtn

from .models import PayoutAccount

Scheme = PayoutAccount.Scheme

HOLDER_MISSING = "Enter the account holder's name, as the bank knows it."
HOLDER_FORMULA = (
    "The account holder's name cannot start with =, +, -, @, a tab or a line break: "
    "enter the name as the bank knows it."
)
# What a spreadsheet reads as the start of a formula (the bank file is a CSV that staff
# open): refused at the start of a name, and escaped in the file (`payouts.services`).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
IBAN_MISSING = "Enter your IBAN."
IBAN_CHECKSUM = "This IBAN's check digits do not match: please check it for a typing mistake."
IBAN_COUNTRY = "This IBAN does not start with a country code that uses IBANs (such as DE, FR or GB)."
IBAN_LENGTH = "This IBAN has the wrong number of characters for {country}."
IBAN_OTHER = "This is not a valid IBAN: please check it against your bank statement."
BIC_INVALID = "This is not a valid BIC (SWIFT code): it has 8 or 11 letters and digits, such as DEUTDEFF."
BIC_COUNTRY = "This BIC belongs to a bank in {bic_country}, but the IBAN is from {iban_country}."
BIC_NEEDED = "Enter your bank's BIC (SWIFT code): payments to {country} need it."
ROUTING_FORMAT = "A US routing number has exactly 9 digits."
ROUTING_CHECKSUM = "This routing number's check digit does not match: please check it for a typing mistake."
ACCOUNT_FORMAT = "A US account number has 4 to 17 digits."


class BankDetailsInvalid(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class BankDetails:
    scheme: str
    holder_name: str
    iban: str = ""
    bic: str = ""
    routing_number: str = ""
    account_number: str = ""

    def masked(self) -> str:
        return PayoutAccount(
            bank_scheme=self.scheme,
            iban=self.iban,
            bic=self.bic,
            routing_number=self.routing_number,
            account_number=self.account_number,
        ).bank_details_masked


# A run of words with digits in them, joined by spaces, dots, dashes or slashes: an IBAN
# or account number however it was typed ("DE89 3704 0044 …", "000-123-456-789").
_NUMBER_RUN = re.compile(r"[A-Za-z0-9]*\d[A-Za-z0-9]*(?:[ .\-/]+[A-Za-z0-9]*\d[A-Za-z0-9]*)*")
_SEPARATORS = re.compile(r"[ .\-/]")


def account_numbers_masked(text: str) -> str:
    """Free text (such as bank details staff once typed) with every run of six digits or
    more masked down to its last four characters, as stored details are shown: an IBAN as
    `DE•• •••• 3000`, any other number as `••••6789`. Words and short numbers stay."""

    def mask(match: re.Match) -> str:
        compact = _SEPARATORS.sub("", match.group(0))
        if sum(c.isdigit() for c in compact) < 6:
            return match.group(0)
        if re.match(r"[A-Za-z]{2}\d{2}", compact):
            return f"{compact[:2].upper()}•• •••• {compact[-4:]}"
        return f"••••{compact[-4:]}"

    return _NUMBER_RUN.sub(mask, text)


def _compact(text: str) -> str:
    return "".join(str(text or "").split()).replace("-", "").upper()


def _iban_clean(text: str, bic_text: str, errors: dict) -> tuple[str, str]:
    if not _compact(text):
        errors["iban"] = IBAN_MISSING
        return "", ""
    try:
        iban = IBAN(_compact(text))
    except (InvalidChecksumDigits, InvalidBBANChecksum):
        errors["iban"] = IBAN_CHECKSUM
        return "", ""
    except InvalidCountryCode:
        errors["iban"] = IBAN_COUNTRY
        return "", ""
    except InvalidLength:
        errors["iban"] = IBAN_LENGTH.format(country=_compact(text)[:2])
        return "", ""
    except (InvalidStructure, SchwiftyException):
        errors["iban"] = IBAN_OTHER
        return "", ""
    bic = ""
    if _compact(bic_text):
        try:
            bic = BIC(_compact(bic_text))
        except SchwiftyException:
            errors["bic"] = BIC_INVALID
            return iban.compact, ""
        if bic.country_code != iban.country_code:
            errors["bic"] = BIC_COUNTRY.format(bic_country=bic.country_code, iban_country=iban.country_code)
            return iban.compact, ""
        return iban.compact, bic.compact
    # Inside the SEPA zone a bank is reached by IBAN alone; elsewhere the BIC is needed,
    # unless schwifty's bank registry knows it from the IBAN.
    known = iban.bic
    if known is not None:
        return iban.compact, known.compact
    if not iban.in_sepa_zone:
        errors["bic"] = BIC_NEEDED.format(country=iban.country_code)
    return iban.compact, bic


def bank_details_clean(
    *,
    scheme: str,
    holder_name: str,
    iban: str = "",
    bic: str = "",
    routing_number: str = "",
    account_number: str = "",
) -> BankDetails:
    """The details as they will be stored, or BankDetailsInvalid naming each bad field."""
    errors: dict[str, str] = {}
    holder = " ".join(str(holder_name or "").split())
    if not holder:
        errors["holder_name"] = HOLDER_MISSING
    elif holder.startswith(FORMULA_STARTS) or str(holder_name).lstrip(" ").startswith(FORMULA_STARTS):
        errors["holder_name"] = HOLDER_FORMULA
    if scheme == Scheme.IBAN:
        iban_clean, bic_clean = _iban_clean(iban, bic, errors)
        details = BankDetails(scheme=scheme, holder_name=holder, iban=iban_clean, bic=bic_clean)
    elif scheme == Scheme.US_ABA:
        routing = _compact(routing_number)
        number = _compact(account_number)
        # ASCII digits only: str.isdigit() also takes "²" and "５", which no bank reads.
        if not re.fullmatch(r"[0-9]{9}", routing):
            errors["routing_number"] = ROUTING_FORMAT
        else:
            try:
                rtn.validate(routing)
            except InvalidChecksum:
                errors["routing_number"] = ROUTING_CHECKSUM
            except ValidationError:
                errors["routing_number"] = ROUTING_FORMAT
        if not re.fullmatch(r"[0-9]{4,17}", number):
            errors["account_number"] = ACCOUNT_FORMAT
        details = BankDetails(
            scheme=scheme, holder_name=holder, routing_number=routing, account_number=number
        )
    else:
        errors["bank_scheme"] = "Choose the kind of bank account: IBAN, or a US routing and account number."
        details = None
    if errors:
        raise BankDetailsInvalid(errors)
    return details
