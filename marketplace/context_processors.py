from django.conf import settings


def platform(request):
    """The platform's name, for the page header and titles (PLATFORM_NAME)."""
    return {"platform_name": settings.PLATFORM_NAME}
