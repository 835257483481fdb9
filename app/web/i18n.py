"""The console's languages: Swedish, Norwegian (bokmål) and English, from gettext catalogs.

The catalogs' sources (``locale/<lang>/LC_MESSAGES/messages.po``) are committed; they are compiled
with Babel when the console starts, so nothing compiled is kept in the repository. The language
is the one the person chose with the switch (a cookie), else the best match of the browser's
``Accept-Language``, else English.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel import Locale, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = {"sv": "Svenska", "nb": "Norsk bokmål", "en": "English"}
DEFAULT = "en"
COOKIE = "samverkan_lang"

_current: ContextVar[str] = ContextVar("console_language", default=DEFAULT)


@lru_cache
def translations(language: str) -> Translations:
    """The compiled catalog of a language (English is the source and needs none)."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT or not path.exists():
        return Translations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The language to answer in."""
    if cookie in LANGUAGES:
        return cookie
    wanted = []
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            wanted.append((quality, tag.strip()))
    # Norwegian browsers often send "no" or "nn"; bokmål is the written form served here.
    preferred = [
        "nb" if tag.lower() in ("no", "nn") or tag.lower().startswith(("no-", "nn-")) else tag
        for _, tag in sorted(wanted, key=lambda w: -w[0])
    ]
    return negotiate_locale(preferred, list(LANGUAGES), sep="-") or DEFAULT


def activate(language: str) -> None:
    """Make ``language`` the one this request's texts are in."""
    _current.set(language)


def current() -> str:
    """This request's language."""
    return _current.get()


def locale() -> Locale:
    """This request's language as a Babel locale for dates and numbers (English as in Britain:
    day before month, 24-hour clock, as the Nordic readers expect)."""
    language = current()
    return Locale("en", "GB") if language == "en" else Locale.parse(language)


def gettext(message: str) -> str:
    """The message in this request's language."""
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural message in this request's language."""
    return translations(current()).ngettext(singular, plural, n)
