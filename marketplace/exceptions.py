"""The one domain error type. Its message is written for the person who sees it."""


class ApplicationError(Exception):
    def __init__(self, message, *, extra=None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
