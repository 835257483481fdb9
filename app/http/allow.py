"""The ``Allow`` header of a 405: every method the path supports, as the OpenAPI document says.

Starlette's router names only the methods of the first route whose path matches; FastAPI has one
route per method, so that would be one method of several (RFC 9110 §15.5.6 wants them all).
"""

from __future__ import annotations

import re

from fastapi import FastAPI


def allowed_methods(app: FastAPI, path: str) -> list[str] | None:
    """The methods the OpenAPI document declares for the path a request names, or None when
    it declares none: the ``Allow`` of a 405 lists every method the path supports."""
    templates: list[tuple[int, re.Pattern[str], list[str]]] | None = getattr(
        app.state, "allow_templates", None
    )
    if templates is None:
        templates = []
        for template, operations in app.openapi().get("paths", {}).items():
            literal = len(re.sub(r"\{[^}]*\}", "", template))
            pattern = re.compile("^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template)) + "$")
            methods = sorted(m.upper() for m in operations if m.upper() in _HTTP_METHODS)
            templates.append((literal, pattern, methods))
        # The most literal template first: /fhir/Patient/_history before /fhir/Patient/{id}.
        templates.sort(key=lambda t: -t[0])
        app.state.allow_templates = templates
    for _literal, pattern, methods in templates:
        if pattern.match(path):
            return methods
    return None


_HTTP_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"})
