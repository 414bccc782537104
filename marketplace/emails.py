"""Templated email: every message has a plain-text and an HTML body, rendered from
`<prefix>.txt` and `<prefix>.html`, with the subject from `<prefix>_subject.txt`.
`marketplace.outbox.outbox_email` renders with this and queues the result."""

from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string

from .platform_time import platform_timezone_active


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text_body: str
    html_body: str


def email_render(*, template_prefix: str, context: dict) -> RenderedEmail:
    """The subject and the plain-text body are rendered by the "text" template engine,
    which does not HTML-escape (what people typed arrives as they typed it); the HTML body
    by the default engine, which does. Dates are in the platform timezone."""
    context = {"site_url": settings.SITE_URL, "platform_name": settings.PLATFORM_NAME, **context}
    with platform_timezone_active():
        return _render(template_prefix, context)


def _render(template_prefix: str, context: dict) -> RenderedEmail:
    return RenderedEmail(
        subject=" ".join(render_to_string(f"{template_prefix}_subject.txt", context, using="text").split()),
        text_body=render_to_string(f"{template_prefix}.txt", context, using="text"),
        html_body=render_to_string(f"{template_prefix}.html", context),
    )
