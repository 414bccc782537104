"""Mail you can find in development: every email a worker sends becomes one `.eml` file
(the standard format any mail program opens, with the HTML part) in EMAIL_DIR, named by
time and subject, and the worker's log gets one line with the recipient and the subject
as people read it (no RFC 2047 encoding). Staff also see every email in the admin under
Post Office > Emails, sent or failed."""

import email.policy
import logging
import uuid
from email.generator import BytesGenerator
from io import BytesIO
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone
from django.utils.text import slugify

logger = logging.getLogger(__name__)


class EmlFileBackend(BaseEmailBackend):
    def __init__(self, file_path=None, fail_silently=False, **kwargs):
        super().__init__(fail_silently=fail_silently)
        self.folder = Path(file_path or settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages):
        self.folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            name = f"{timezone.now():%Y%m%d-%H%M%S}-{slugify(message.subject)[:60] or 'email'}-{uuid.uuid4().hex[:6]}.eml"
            path = self.folder / name
            path.write_bytes(_eml_bytes(message))
            logger.info("Email to %s: %s (%s)", ", ".join(message.to), message.subject, path)
            sent += 1
        return sent


def _eml_bytes(message) -> bytes:
    """The message as a mail program reads it. The subject is folded by the modern email
    policy: Django's compat32 folding puts a long non-ASCII subject on the next line,
    which mail programs show with a leading space."""
    mime = message.message()
    del mime["Subject"]
    mime["Subject"] = message.subject
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=email.policy.SMTP).flatten(mime)
    return out.getvalue()
