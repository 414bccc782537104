"""The seller's payout settings forms: bank details (checked by `payouts.bank_details`,
the same check the service makes) and the password a change of details needs."""

from django import forms

from .bank_details import BankDetailsInvalid, bank_details_clean
from .models import PayoutAccount


class BankDetailsForm(forms.Form):
    bank_scheme = forms.ChoiceField(
        label="Kind of bank account",
        choices=PayoutAccount.Scheme.choices,
        initial=PayoutAccount.Scheme.IBAN,
        widget=forms.RadioSelect,
    )
    holder_name = forms.CharField(label="Account holder", max_length=140, required=False)
    iban = forms.CharField(label="IBAN", max_length=50, required=False)
    bic = forms.CharField(
        label="BIC (SWIFT code)",
        max_length=20,
        required=False,
        help_text="Needed for banks outside the SEPA area; we look it up from the IBAN where we can.",
    )
    routing_number = forms.CharField(label="Routing number (ABA)", max_length=20, required=False)
    account_number = forms.CharField(label="Account number", max_length=30, required=False)
    password = forms.CharField(
        label="Your password",
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Changing where your money goes needs your password.",
    )

    def clean(self):
        data = super().clean()
        try:
            self.details = bank_details_clean(
                scheme=data.get("bank_scheme", ""),
                holder_name=data.get("holder_name", ""),
                iban=data.get("iban", ""),
                bic=data.get("bic", ""),
                routing_number=data.get("routing_number", ""),
                account_number=data.get("account_number", ""),
            )
        except BankDetailsInvalid as invalid:
            for name, message in invalid.errors.items():
                self.add_error(name if name in self.fields else None, message)
        return data

    def details_for_service(self) -> dict:
        data = self.cleaned_data
        return {
            name: data.get(name, "")
            for name in ("holder_name", "iban", "bic", "routing_number", "account_number")
        } | {"scheme": data["bank_scheme"]}


class PasswordForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
