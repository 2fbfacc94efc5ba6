"""What an RDS error means for the engine: the error codes the gateway tells apart, and `classify`.

Each botocore error becomes one class of `rds_maint.errors`: transient (throttling, 5xx, a lost
connection: sent again by the gateway within its policy), busy (the resource refuses for now: a later
call), and needs-a-person for everything else (credentials, parameters, a missing resource). Credential
and parameter errors are never transient, so a wrong login is never retried into a storm.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from rds_maint import credentials
from rds_maint.errors import AwsError, BusyAwsError, PersonAwsError, ThrottledAwsError, TransientAwsError
from rds_maint.retry import SERVER_ERROR_CODES, THROTTLING_CODES, is_read

__all__ = [
    "BLUE_GREEN_NOT_FOUND",
    "BUSY_CODES",
    "CLUSTER_NOT_FOUND",
    "INSTANCE_NOT_FOUND",
    "PARAMETER_GROUP_NOT_FOUND",
    "TRANSIENT_CODES",
    "classify",
    "error_code",
    "retryable",
    "unless_missing",
]

TRANSIENT_CODES = THROTTLING_CODES | SERVER_ERROR_CODES
BUSY_CODES = frozenset(
    {
        "InvalidDBInstanceState",
        "InvalidDBInstanceStateFault",
        "InvalidDBClusterStateFault",
        "InvalidDBClusterState",
    }
)
INSTANCE_NOT_FOUND = frozenset({"DBInstanceNotFound", "DBInstanceNotFoundFault"})
CLUSTER_NOT_FOUND = frozenset({"DBClusterNotFoundFault", "DBClusterNotFound"})
BLUE_GREEN_NOT_FOUND = frozenset({"BlueGreenDeploymentNotFoundFault", "BlueGreenDeploymentNotFound"})
PARAMETER_GROUP_NOT_FOUND = frozenset(
    {"DBParameterGroupNotFound", "DBParameterGroupNotFoundFault", "DBClusterParameterGroupNotFound"}
)

_Found = TypeVar("_Found")


def unless_missing(missing: frozenset[str], read: Callable[[], _Found]) -> _Found | None:
    """`read()`, or None when AWS answers that the thing read does not exist (one of the `missing` codes)."""
    try:
        return read()
    except PersonAwsError as exc:
        if exc.code in missing:
            return None
        raise


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def classify(operation: str, exc: Exception, profile: str | None = None) -> AwsError:
    """One error kind per botocore error; credential and parameter errors are never transient."""
    explained = credentials.explain(operation, exc, profile)
    if explained is not None:
        return explained
    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400) or 400)
        if code in THROTTLING_CODES:
            return ThrottledAwsError(operation, code, message)
        if code in SERVER_ERROR_CODES or status >= 500:
            return TransientAwsError(operation, code, message)
        if code in BUSY_CODES:
            return BusyAwsError(operation, code, message)
        return PersonAwsError(operation, code, message)
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return TransientAwsError(operation, type(exc).__name__, str(exc))
    return PersonAwsError(operation, type(exc).__name__, str(exc))


def retryable(operation: str) -> Callable[[Exception], bool]:
    """What may be sent again for `operation`: a read on any transient error, a mutating call only after
    throttling (AWS did not apply it; after a 5xx or a lost answer it may have)."""
    if is_read(operation):
        return lambda exc: isinstance(exc, TransientAwsError)
    return lambda exc: isinstance(exc, ThrottledAwsError)
