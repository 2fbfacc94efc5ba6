"""The one retry policy of rds-maint: who retries what, how often, how long.

There is exactly one retry layer, ours. Every botocore client the tool makes sends each request
once (`SDK_RETRIES`: `total_max_attempts` 1; note that botocore's `max_attempts` counts *retries*,
so `max_attempts: 1` would still send twice). botocore's `standard` mode would otherwise retry
EVERY operation on 500/502/503/504 and connection errors, mutating ones included, and multiply
with any layer on top (botocore retries/standard.py; docs/aws-behaviour.md, "Retries, errors and
credentials").

What our layer retries:

* reads (Describe*, List*): throttling, 5xx and connection errors, with full jitter, at most
  `READS.attempts` sends per logical call;
* mutating RDS calls: only a throttling answer (AWS refused the request before applying it, so
  sending it again cannot repeat an effect). A 5xx or a connection error may hide an effect that
  happened: the call is not sent again here; the engine's next advance of the step runs the
  action again, and the action looks at AWS before it acts;
* the S3/DynamoDB state stores: throttling, 5xx and connection errors on every request, because
  every store write is conditional and recognises its own earlier write (store/s3.py, dynamodb.py).

Credential, profile and parameter-validation errors are never transient: they fail at once.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

if TYPE_CHECKING:
    from botocore.config import _RetryDict

__all__ = [
    "CONNECTION_ERRORS",
    "MAX_SENDS",
    "MUTATING_THROTTLED",
    "READS",
    "READ_PREFIXES",
    "SDK_RETRIES",
    "SERVER_ERROR_CODES",
    "STORE",
    "THROTTLING_CODES",
    "RetryPolicy",
    "call_with_retries",
    "is_read",
]

T = TypeVar("T")

# botocore sends each request once: our layer is the only one.
SDK_RETRIES: _RetryDict = {"mode": "standard", "total_max_attempts": 1}

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ProvisionedThroughputExceededException",
    }
)
# Server-side answers whose effect is unknown (the request may have been applied).
SERVER_ERROR_CODES = frozenset(
    {
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
# The request never reached AWS, or its answer never came back.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
)
READ_PREFIXES = ("Describe", "List", "Get")


@dataclass(frozen=True)
class RetryPolicy:
    """At most `attempts` sends; before send n+1, sleep uniform(0, min(cap, base * 2**n)) (full jitter)."""

    attempts: int
    base: float
    cap: float

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter")."""
        draw = (rng or random).uniform
        return draw(0.0, min(self.cap, self.base * 2**retry))


READS = RetryPolicy(attempts=5, base=0.5, cap=8.0)
MUTATING_THROTTLED = RetryPolicy(attempts=4, base=1.0, cap=8.0)
STORE = RetryPolicy(attempts=5, base=0.5, cap=8.0)
MAX_SENDS = 8  # the most sends one logical call may cost, whatever the policy (bench/retries.py measures it)


def is_read(operation: str) -> bool:
    """Describe*/List*/Get* change nothing: safe to send again whatever the answer was."""
    return operation.startswith(READ_PREFIXES)


def call_with_retries(
    fn: Callable[[], T],
    retryable: Callable[[Exception], bool],
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    rng: random.Random | None = None,
) -> T:
    """`fn()`, sent again while `retryable(error)` and attempts are left; the last error is raised."""
    attempts = min(policy.attempts, MAX_SENDS)
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as exc:
            if attempt == attempts or not retryable(exc):
                raise
            sleep(policy.delay(attempt - 1, rng))
    raise AssertionError("unreachable")  # pragma: no cover
