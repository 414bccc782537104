"""The one domain error type (its message is written for the person who sees it), and the
platform's errors that several apps catch."""


class ApplicationError(Exception):
    def __init__(self, message, *, extra=None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class LinkProblem(Exception):
    """Why a signed link in an email cannot act; `title` and `message` are shown to the
    person as they are, with `status` as the HTTP status."""

    def __init__(self, title: str, message: str, status: int):
        super().__init__(message)
        self.title = title
        self.message = message
        self.status = status


class GatewayUnavailable(Exception):
    """The payment service (Stripe) did not answer properly, after the in-call retries.
    Safe to resend with the same idempotency key. Raised by `stripe_integration`, caught by
    the apps and by platform commands, hence defined here, below both."""

    def __init__(self, message, *, http_status=None, body=None):
        super().__init__(message)
        self.http_status = http_status
        self.body = body or {}
