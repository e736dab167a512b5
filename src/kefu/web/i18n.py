"""Gettext catalogues (Babel .po files) for the UI, Simplified Chinese first, English second.

The .po files are compiled in memory at start-up, so no build step can leave stale .mo files.
The active locale is a context variable set per request.
"""

from __future__ import annotations

import gettext
from contextvars import ContextVar
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"

_current: ContextVar[str] = ContextVar("kefu_locale", default=DEFAULT_LOCALE)


@cache
def translations(locale: str) -> gettext.NullTranslations:
    po_path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po_path.is_file():
        return gettext.NullTranslations()
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def set_locale(locale: str) -> None:
    _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


def get_locale() -> str:
    return _current.get()


def gettext_(message: str) -> str:
    return translations(get_locale()).gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    return translations(get_locale()).ngettext(singular, plural, n)


def pick_locale(query: str | None, cookie: str | None, accept_language: str, default: str) -> str:
    for candidate in (query, cookie):
        if candidate in LOCALES:
            return candidate
    header = accept_language.lower()
    if header.startswith("en"):
        return "en"
    if header.startswith("zh"):
        return "zh_CN"
    return default


def N_(message: str) -> str:
    """Marks a string for extraction whose translation is looked up later."""
    return message


# Values rendered through _() in templates (roles, channels, states, HTTP titles); listed
# here so that extraction puts them in the catalogues.
DYNAMIC_LABELS = [
    N_("agent"), N_("supervisor"), N_("admin"), N_("analyst"), N_("teller"),
    N_("sms"), N_("wechat"), N_("weibo"), N_("webchat"),
    N_("open"), N_("pending"), N_("closed"),
    N_("online"), N_("busy"), N_("away"), N_("offline"),
    N_("received"), N_("answered"), N_("accepted"), N_("sending"), N_("sent"), N_("delivered"),
    N_("failed"), N_("unknown"),
    N_("Bad Request"), N_("Unauthorized"), N_("Forbidden"), N_("Not Found"),
    N_("Method Not Allowed"), N_("Unprocessable Entity"), N_("Content Too Large"),
    N_("Internal Server Error"), N_("Bad Gateway"),
]  # fmt: skip
