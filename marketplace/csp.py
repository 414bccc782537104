"""
The Content-Security-Policy with Stripe.js in it.

The settings hold the policy for the product's own files; this middleware adds, on each
response, where Stripe.js comes from and what it talks to, read from STRIPE_JS_URL at
request time (Stripe's own js.stripe.com in production, a Stripe-compatible server such
as localstripe in development and tests). Stripe documents what Elements needs:
https://docs.stripe.com/security/guide#content-security-policy
"""

from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware
from django.conf import settings

STRIPE_JS_ORIGIN = "https://js.stripe.com"


def stripe_sources(js_url: str) -> dict[str, list[str]]:
    """The sources Stripe.js at `js_url` needs, per directive."""
    parts = urlsplit(js_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if origin == STRIPE_JS_ORIGIN:
        return {
            "script-src": [STRIPE_JS_ORIGIN, "https://*.js.stripe.com"],
            "frame-src": [STRIPE_JS_ORIGIN, "https://*.js.stripe.com", "https://hooks.stripe.com"],
            "connect-src": ["https://api.stripe.com"],
        }
    # A Stripe-compatible server serves the script and answers its calls itself.
    return {"script-src": [origin], "frame-src": [origin], "connect-src": [origin]}


class StripeCSPMiddleware(CSPMiddleware):
    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only=report_only)
        if not report_only:
            update = stripe_sources(settings.STRIPE_JS_URL)
            for directive, sources in (parts.update or {}).items():
                update[directive] = [*update.get(directive, []), *sources]
            parts.update = update
        return parts
