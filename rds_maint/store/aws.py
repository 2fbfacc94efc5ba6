"""What the S3 and DynamoDB stores share: clients, error codes, bounded retries on throttling."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from rds_maint.errors import StoreError

T = TypeVar("T")

# Answers that mean "not now": retried with backoff here, on top of botocore's own retries.
THROTTLE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "RequestThrottledException",
        "ServiceUnavailable",
        "InternalError",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "Forbidden"})

# botocore's standard mode: a broad transient list, backoff capped at 20 s, a retry quota.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=20)
ATTEMPTS = 5  # our own attempts around each request, after botocore's
BASE_DELAY = 0.25
MAX_DELAY = 8.0


def make_client(service: str, region: str | None = None, profile: str | None = None) -> Any:
    session = boto3.session.Session(profile_name=profile, region_name=region)
    return session.client(service, config=CLIENT_CONFIG)  # type: ignore[call-overload]


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_throttle(exc: ClientError) -> bool:
    return error_code(exc) in THROTTLE_CODES or http_status(exc) in (500, 502, 503, 504)


def backoff(attempt: int) -> float:
    """Full jitter: a random delay up to an exponentially growing cap."""
    return random.uniform(0, min(MAX_DELAY, BASE_DELAY * 2**attempt))


def with_retries(fn: Callable[[], T], what: str, sleep: Callable[[float], None]) -> T:
    """Call `fn`, retrying throttling and 5xx answers a bounded number of times."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return fn()
        except ClientError as exc:
            if not is_throttle(exc):
                raise
            if attempt == ATTEMPTS:
                raise StoreError(
                    f"{what}: AWS kept answering {error_code(exc)} after {ATTEMPTS} attempts "
                    "(throttled or unavailable); nothing more was written, try again later"
                ) from exc
            sleep(backoff(attempt))
    raise AssertionError("unreachable")  # pragma: no cover
