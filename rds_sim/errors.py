"""The errors the simulated AWS answers with, and the crash it can inject.

`ApiError` never reaches the caller as such: the botocore hook turns it into the error
response AWS would send, and botocore raises its own modelled exception from the code
(`client.exceptions.InvalidDBInstanceStateFault`, a plain `ClientError` for unmodelled codes).
"""

from __future__ import annotations


class ApiError(Exception):
    """An AWS error answer: code as AWS spells it on the wire, message, HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class SimulatedCrash(BaseException):
    """The process died right after AWS applied the call (kill -9, a Lambda timeout).

    A `BaseException`, so that `except Exception` blocks in the code under test cannot
    swallow it: the only way to survive it is to resume from what was persisted.
    """


def instance_not_found(instance_id: str) -> ApiError:
    return ApiError("DBInstanceNotFound", f"DBInstance {instance_id} not found.", 404)


def cluster_not_found(cluster_id: str) -> ApiError:
    return ApiError("DBClusterNotFoundFault", f"DBCluster {cluster_id} not found.", 404)


def instance_state(message: str) -> ApiError:
    return ApiError("InvalidDBInstanceState", message)


def cluster_state(message: str) -> ApiError:
    return ApiError("InvalidDBClusterStateFault", message)


def not_orderable(instance_class: str, engine: str, engine_version: str, license_model: str) -> ApiError:
    """AWS's exact wording, which people search for in the documentation."""
    return ApiError(
        "InvalidParameterCombination",
        "RDS does not support creating a DB instance with the following combination: "
        f"DBInstanceClass={instance_class}, Engine={engine}, EngineVersion={engine_version}, "
        f"LicenseModel={license_model}. For supported combinations of instance class and database "
        "engine version, see the documentation.",
    )


def throttled() -> ApiError:
    return ApiError("Throttling", "Rate exceeded")


def internal_failure() -> ApiError:
    return ApiError("InternalFailure", "An internal error has occurred. Please try your query again.", 500)
