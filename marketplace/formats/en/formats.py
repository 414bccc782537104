"""The one date style people read, on pages, in the admin and in emails: "6 Dec 2026" and
"6 Dec 2026, 14:05" (always in the platform timezone: marketplace.platform_time). Python
code writes the same with platform_time.date_text and datetime_text. What people type
into the admin's date fields is read as Django's English locale reads it."""

from django.conf.locale.en.formats import *  # noqa: F403

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "j M"
YEAR_MONTH_FORMAT = "M Y"
