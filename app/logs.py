"""Structured logs: every line one JSON object with the same fields, uvicorn's lines included.

Each line has ``at``, ``level``, ``logger``, ``message`` and ``request_id`` (the request's
``X-Request-ID``, generated when the client sent none; for a push, the request that caused its
event), plus the fields a line adds as ``extra`` (``event_id``, ``delivery_id``, …). So a log
search for one request id finds the request, uvicorn's access line and every delivery attempt.

python-json-logger formats and asgi-correlation-id carries the id (a context variable set by
its middleware, or by the dispatcher around each push); this module only wires them up.
"""

from __future__ import annotations

import logging.config
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS

FIELDS = {"levelname": "level", "name": "logger", "correlation_id": "request_id"}


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """The ``logging.config`` dictionary of every process; uvicorn is given it as its own."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "asgi_correlation_id.CorrelationIdFilter"}},
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.orjson.OrjsonFormatter",
                "fmt": ["levelname", "name", "message"],
                "rename_fields": FIELDS,
                "timestamp": "at",
                # uvicorn adds a copy of each message with terminal colours.
                "reserved_attrs": [*RESERVED_ATTRS, "color_message"],
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            **{
                name: {"handlers": [], "propagate": True, "level": level}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            # Alembic announces each of its plugins on every start.
            "alembic.runtime.plugins": {"level": "WARNING"},
        },
    }


def configure(level: str = "INFO") -> dict[str, Any]:
    """Send every log line of this process to stderr as JSON; returns the configuration."""
    config = logging_config(level)
    logging.config.dictConfig(config)
    return config
