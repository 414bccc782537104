"""The one domain error type. Its message is written for the person who sees it."""


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
