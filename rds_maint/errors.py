"""Every exception type of the product, and what each becomes at the drivers.

The CLI (`rds_maint.cli`, exit codes of DESIGN section 8) and the Lambda (`rds_maint.lambda_handler`,
DESIGN section 5) map these, and nothing else, to an answer; any other exception is a bug (the CLI shows
a traceback and exits 1, the Lambda raises and the state machine's failure path records it).

- `BadInput` and its kinds (`OperationNotFound`, `ClusterLocked`, `StoreNotFound`, `UnknownProfile`,
  `AwsParameterError`): the request cannot be carried out as given and nothing changed. CLI exit 2;
  Lambda an error result (`outcome` failed, `error` set).
- Every other `RdsMaintError` (`Conflict`, `StoreError`, `AwsError` and its kinds, `AnswerRefused`):
  CLI exit 1; Lambda an error result. Inside a step the engine answers some of them itself instead:
  `Conflict` on a save becomes the winner's state with `error` "conflict: ..."; `BusyAwsError` a later
  retry; `TransientAwsError` (`ThrottledAwsError` included) a counted retry, then a pause; any other
  `AwsError` (`PersonAwsError`, `CredentialsError`) a pause for a person.
- `NeedsPerson`: raised by a step action only, never seen by a driver. The engine pauses the operation
  with its message as `pause_reason`: CLI exit 3; Lambda `outcome` intervention. It is not an
  `RdsMaintError` (as before), so a driver's catch-all for ours cannot swallow one that escaped a step.
"""

from __future__ import annotations

__all__ = [
    "AnswerRefused",
    "AwsError",
    "AwsParameterError",
    "BadInput",
    "BusyAwsError",
    "CampaignNotFound",
    "ClusterLocked",
    "Conflict",
    "CredentialsError",
    "NeedsPerson",
    "OperationNotFound",
    "PersonAwsError",
    "RdsMaintError",
    "StoreError",
    "StoreNotFound",
    "ThrottledAwsError",
    "TransientAwsError",
    "UnknownProfile",
]


class RdsMaintError(Exception):
    """Base of every error this tool raises on purpose."""


class BadInput(RdsMaintError):
    """The request cannot be carried out as given; nothing was written or changed (exit 2)."""


class OperationNotFound(BadInput):
    def __init__(self, operation_id: str) -> None:
        super().__init__(f"operation '{operation_id}' not found")
        self.operation_id = operation_id


class CampaignNotFound(BadInput):
    def __init__(self, campaign_id: str) -> None:
        super().__init__(f"campaign '{campaign_id}' not found")
        self.campaign_id = campaign_id


class Conflict(RdsMaintError):
    """Another writer saved the operation first; this call changed nothing."""


class StoreError(RdsMaintError):
    """The state store is missing, unreadable or refuses access."""


class StoreNotFound(StoreError, BadInput):
    """The bucket or table named by the store URL does not exist (create it with `rds-maint init`)."""


class ClusterLocked(BadInput):
    """Another operation that has not finished holds the cluster's lock; nothing was written."""

    def __init__(self, message: str, holder: str) -> None:
        super().__init__(message)
        self.holder = holder


class AwsError(RdsMaintError):
    """An AWS API error, already classified by the RDS gateway."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"{operation}: {code}: {message}")
        self.operation = operation
        self.code = code
        self.aws_message = message


class TransientAwsError(AwsError):
    """Throttling or a 5xx that outlived the gateway's retries: try again on a later call."""


class BusyAwsError(AwsError):
    """The resource is in a state that refuses the change for now: try again on a later call."""


class PersonAwsError(AwsError):
    """Anything else: a person must look (the AWS code and message go into pause_reason)."""


class ThrottledAwsError(TransientAwsError):
    """AWS refused the request before applying it (throttling): sending it again repeats nothing."""


class CredentialsError(PersonAwsError):
    """No usable AWS credentials (none found, an expired SSO session, a refused token): never transient.

    `str()` is the one line a person needs: what is missing and how to fix it.
    """

    def __str__(self) -> str:
        return self.aws_message


class UnknownProfile(BadInput):
    """The AWS profile named by --profile or AWS_PROFILE is not configured (exit 2, nothing was sent)."""


class AwsParameterError(PersonAwsError, BadInput):
    """botocore refused the parameters before sending the request (ParamValidationError): never transient."""


class AnswerRefused(RdsMaintError):
    """Step Functions did not take the answer (stale or used token, no access)."""


class NeedsPerson(Exception):
    """Something a person must judge: the operation pauses with this reason."""
