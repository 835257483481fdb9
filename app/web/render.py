"""Rendering console pages: gettext texts, dates in the reader's language."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.web import i18n

if TYPE_CHECKING:
    from app.web.context import Console

TEMPLATES = Path(__file__).parent / "templates"
# Times are shown as the coordinators read them: Nordic local time.
ZONE = ZoneInfo("Europe/Stockholm")

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext, i18n.ngettext, newstyle=True
)


def _date(value: date | datetime | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        value = value.astimezone(ZONE).date()
    return format_date(value, "medium", locale=i18n.locale())


def _datetime(value: datetime | None) -> str:
    if value is None:
        return "–"
    return format_datetime(value.astimezone(ZONE), "short", tzinfo=ZONE, locale=i18n.locale())


def _number(value: Decimal | int | float | None) -> str:
    if value is None:
        return "–"
    return format_decimal(value, locale=i18n.locale())


environment.filters["date"] = _date
environment.filters["datetime"] = _datetime
environment.filters["number"] = _number


def render(console: Console, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A page of the console, with the layout's shared context."""
    request = console.request
    body = environment.get_template(template).render(
        language=i18n.current(),
        languages=i18n.LANGUAGES,
        path=request.url.path,
        here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        identity=console.identity,
        csrf_token=console.session.csrf_token if console.session else "",
        console=console,
        **context,
    )
    return HTMLResponse(body, status_code=status)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """A page saying what went wrong, in the request's language."""
    body = environment.get_template("error.html").render(
        language=i18n.current(),
        languages=i18n.LANGUAGES,
        path=request.url.path,
        here=request.url.path,
        identity=None,
        csrf_token="",
        console=None,
        status=status,
        message=message,
    )
    return HTMLResponse(body, status_code=status)
