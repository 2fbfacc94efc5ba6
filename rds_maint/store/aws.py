"""What the S3 and DynamoDB stores share: clients, error codes, bounded retries on throttling.

The retry policy is `rds_maint.retry.STORE`: botocore sends each request once, and `with_retries`
sends it again on throttling, 5xx and connection errors. Store writes may be sent again: every
one is conditional and recognises its own earlier write (s3.py, dynamodb.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from rds_maint import credentials
from rds_maint.errors import StoreError
from rds_maint.retry import (
    CONNECTION_ERRORS,
    SDK_RETRIES,
    SERVER_ERROR_CODES,
    STORE,
    THROTTLING_CODES,
    call_with_retries,
)

__all__ = [
    "ATTEMPTS",
    "CLIENT_CONFIG",
    "DENIED_CODES",
    "THROTTLE_CODES",
    "backoff",
    "error_code",
    "error_message",
    "http_status",
    "is_throttle",
    "make_client",
    "with_retries",
]

T = TypeVar("T")

# Answers that mean "not now": retried with backoff here (botocore itself sends once).
THROTTLE_CODES = THROTTLING_CODES | SERVER_ERROR_CODES
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "Forbidden"})

CLIENT_CONFIG = Config(retries=SDK_RETRIES.copy(), connect_timeout=5, read_timeout=20)
ATTEMPTS = STORE.attempts


def make_client(service: str, region: str | None = None, profile: str | None = None) -> Any:
    return credentials.client(service, profile, region, CLIENT_CONFIG)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_throttle(exc: ClientError) -> bool:
    return error_code(exc) in THROTTLE_CODES or http_status(exc) in (500, 502, 503, 504)


def backoff(attempt: int) -> float:
    """Full jitter before attempt `attempt + 1`: the store policy's delay after `attempt` sends."""
    return STORE.delay(attempt - 1)


def with_retries(fn: Callable[[], T], what: str, sleep: Callable[[float], None]) -> T:
    """Call `fn`, retrying throttling, 5xx answers and connection errors a bounded number of times
    (`rds_maint.retry.call_with_retries` with the store policy); past the bound, a StoreError.

    Credential and parameter errors fail at once with the line that says how to fix them.
    """

    def retryable(exc: Exception) -> bool:
        if isinstance(exc, CONNECTION_ERRORS):
            return True
        return isinstance(exc, ClientError) and is_throttle(exc) and credentials.explain(what, exc, None) is None

    try:
        return call_with_retries(fn, retryable, STORE, sleep)
    except ClientError as exc:
        explained = credentials.explain(what, exc, None)
        if explained is not None:
            raise explained from None
        if not is_throttle(exc):
            raise
        raise StoreError(
            f"{what}: AWS kept answering {error_code(exc)} after {ATTEMPTS} attempts "
            "(throttled or unavailable); nothing more was written, try again later"
        ) from exc
    except CONNECTION_ERRORS as exc:
        raise StoreError(f"{what}: could not reach AWS after {ATTEMPTS} attempts ({exc}); try again later") from exc
    except BotoCoreError as exc:
        explained = credentials.explain(what, exc, None)
        if explained is not None:
            raise explained from None
        raise StoreError(f"{what} failed: {type(exc).__name__}: {exc}") from exc
