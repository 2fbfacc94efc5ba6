"""structlog set-up: JSON lines in Lambda, quiet console locally (the CLI shows progress itself)."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog

_configured = False


def configure(level: str | None = None, json: bool | None = None) -> None:
    global _configured
    in_lambda = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
    json = in_lambda if json is None else json
    name = (level or os.environ.get("RDS_MAINT_LOG_LEVEL") or ("INFO" if in_lambda else "WARNING")).upper()
    numeric = logging.getLevelNamesMapping().get(name, logging.WARNING)
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    _configured = True


def get_logger(name: str) -> Any:
    if not _configured:
        configure()
    return structlog.get_logger(name)
