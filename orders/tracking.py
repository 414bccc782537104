"""Where a buyer, a seller or staff can follow a parcel: the carrier's own tracking page
for the carriers people name most, else just the number. No logistics API is called."""

from urllib.parse import quote

from django.utils.html import format_html

# Lower-case carrier names people type → the carrier's public tracking page.
TRACKING_PAGES = {
    "dhl": "https://www.dhl.com/global-en/home/tracking/tracking-parcel.html?tracking-id={}",
    "ups": "https://www.ups.com/track?tracknum={}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
    "royal mail": "https://www.royalmail.com/track-your-item#/tracking-results/{}",
    "dpd": "https://tracking.dpd.de/status/en_US/parcel/{}",
    "gls": "https://gls-group.com/track/{}",
    "postnl": "https://jouw.postnl.nl/track-and-trace/{}",
    "canada post": "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={}",
    "australia post": "https://auspost.com.au/mypost/track/details/{}",
}


def tracking_url(carrier: str, tracking_number: str) -> str | None:
    page = TRACKING_PAGES.get((carrier or "").strip().lower())
    if not page or not tracking_number:
        return None
    return page.format(quote(tracking_number.strip(), safe=""))


def shipping_html(order) -> str:
    """ "DHL · <a>JD014600006281</a>" (a link when the carrier is known), or ""."""
    if not (order.carrier or order.tracking_number):
        return ""
    url = tracking_url(order.carrier, order.tracking_number)
    number = (
        format_html('<a href="{}" rel="noopener noreferrer">{}</a>', url, order.tracking_number)
        if url
        else format_html("{}", order.tracking_number or "no tracking number")
    )
    return format_html("{} · {}", order.carrier or "Carrier not given", number)
