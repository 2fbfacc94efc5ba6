"""structlog set-up: JSON lines in Lambda, quiet console locally (the CLI shows progress itself).

In Lambda the lines follow Powertools for AWS Lambda's structured-logging keys, so log queries and
dashboards written for Powertools work unchanged, without the dependency: `level` (upper case),
`message`, `timestamp` (ISO 8601, UTC), `service` (POWERTOOLS_SERVICE_NAME, default `rds-maint`),
and per invocation (bound by the handler, `bind_invocation`) `cold_start`, `function_name`,
`function_request_id`, `function_arn`, `function_memory_size`.

Level: an explicit `level`, else in Lambda AWS_LAMBDA_LOG_LEVEL (Lambda's advanced logging
controls, which decide what CloudWatch keeps, so they win), POWERTOOLS_LOG_LEVEL, LOG_LEVEL,
RDS_MAINT_LOG_LEVEL, default INFO; locally RDS_MAINT_LOG_LEVEL, then LOG_LEVEL, default WARNING.
Lines go to the current `sys.stderr` (looked up per line, so a test's capture sees them).

`configure_debug` is the CLI's `--debug`, as aws-cli's: every line at DEBUG, and botocore's own log
(each request and response, headers and bodies) on stderr through the standard `logging` module.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from rds_maint import config

__all__ = [
    "DEFAULT_SERVICE",
    "bind_invocation",
    "configure",
    "configure_debug",
    "get_logger",
    "level_name",
    "unbind_invocation",
]

_configured = False

DEFAULT_SERVICE = "rds-maint"


def level_name(level: str | None = None, in_lambda: bool = False) -> str:
    """The level to log at, by the precedence in the module docstring; unknown names fall back."""
    names = [level, config.log_level_setting(in_lambda)]
    chosen = next((n.strip().upper() for n in names if n and n.strip()), "INFO" if in_lambda else "WARNING")
    if chosen == "WARN":
        chosen = "WARNING"
    return chosen if chosen in logging.getLevelNamesMapping() else ("INFO" if in_lambda else "WARNING")


def _powertools_keys(service: str) -> Any:
    def keys(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event_dict["level"] = str(event_dict.get("level", method)).upper()
        event_dict.setdefault("service", service)
        return event_dict

    return keys


def _stderr_logger(*_: Any) -> Any:
    return structlog.PrintLogger(file=sys.stderr)


def configure(level: str | None = None, json: bool | None = None) -> None:
    global _configured
    in_lambda = config.in_lambda()
    json = in_lambda if json is None else json
    numeric = logging.getLevelNamesMapping()[level_name(level, in_lambda)]
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
    ]
    if json:
        service = config.powertools_service_name() or DEFAULT_SERVICE
        processors += [
            _powertools_keys(service),
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
            structlog.processors.EventRenamer("message"),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ]
    else:
        processors += [
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.dev.ConsoleRenderer(colors=False),
        ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    _configured = True


class _CurrentStderr(logging.Handler):
    """Writes each record to whatever `sys.stderr` is when it arrives (a test's capture, or the terminal)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def configure_debug() -> None:
    """`--debug`: our lines at DEBUG, and botocore's wire log, on stderr (once per process)."""
    configure("DEBUG")
    wire = logging.getLogger("botocore")
    if not any(isinstance(h, _CurrentStderr) for h in wire.handlers):
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s [%(levelname)s] %(message)s"))
        wire.addHandler(handler)
    wire.setLevel(logging.DEBUG)


def bind_invocation(context: Any, cold_start: bool) -> None:
    """The Powertools invocation keys, on every line until `unbind_invocation` (contextvars)."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        cold_start=cold_start,
        function_name=getattr(context, "function_name", None) or config.lambda_function_name(),
        function_request_id=getattr(context, "aws_request_id", None),
        function_arn=getattr(context, "invoked_function_arn", None),
        function_memory_size=getattr(context, "memory_limit_in_mb", None) or config.lambda_memory_size(),
    )


def unbind_invocation() -> None:
    structlog.contextvars.clear_contextvars()


def get_logger(name: str) -> Any:
    if not _configured:
        configure()
    return structlog.get_logger(name)
