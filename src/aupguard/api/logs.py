"""Structured JSON logs (structlog): one object per line on standard output.

Log what happened and to whom, never what was said: no request or message
bodies, no API keys, no query strings. The access log line carries the
method, the route template, the status, the time taken, the request id and
the id of the key that called (the public key id, never the secret).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog

__all__ = ["configure_logging", "get_logger"]


def configure_logging(level: str = "info") -> None:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.BytesLoggerFactory(sys.stdout.buffer),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str = "aupguard.api") -> Any:
    return structlog.get_logger(name)
