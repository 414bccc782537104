from django.shortcuts import render

from accounts.decorators import seller_required

from .selectors import seller_payouts as seller_payouts_read


@seller_required
def seller_payouts(request):
    """Balance pending and available, the next payout, upcoming earnings with their dates,
    adjustments with their reasons, and the payout history."""
    return render(request, "payouts/seller_payouts.html", {"view": seller_payouts_read(seller=request.user)})
