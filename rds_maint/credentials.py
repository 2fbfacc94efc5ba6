"""AWS sessions for every client the tool makes, and the errors that mean "no usable credentials".

None of these is transient: sending again cannot help, and a person must act (sign in, pick the
right profile). Each becomes one line that says what is missing and how to fix it, raised at
once, never retried and never shown as a traceback:

* `ProfileNotFound` (at session creation): `UnknownProfile`, bad input (exit 2);
* `NoCredentialsError`, `PartialCredentialsError`, `CredentialRetrievalError`, the SSO ones
  (`SSOTokenLoadError`, `UnauthorizedSSOTokenError`, `TokenRetrievalError`) and AWS's
  `ExpiredToken` / `InvalidClientTokenId` / `UnrecognizedClientException` answers: `CredentialsError`;
* `ParamValidationError` (botocore checked the parameters before sending): `AwsParameterError`.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
)

from rds_maint.config import aws_profile
from rds_maint.errors import AwsError, AwsParameterError, CredentialsError, UnknownProfile

__all__ = [
    "EXPIRED_CODES",
    "PROFILE_ATTRIBUTE",
    "REFUSED_TOKEN_CODES",
    "SESSION_ATTRIBUTE",
    "check",
    "client",
    "explain",
    "profile_of",
    "session",
]

PROFILE_ATTRIBUTE = "_rds_maint_profile"
SESSION_ATTRIBUTE = "_rds_maint_session"
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
REFUSED_TOKEN_CODES = frozenset({"InvalidClientTokenId", "UnrecognizedClientException"})
_SSO_ERRORS = (SSOError, TokenRetrievalError)
_MISSING_ERRORS = (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)


def _profile_text(profile: str | None) -> tuple[str, str]:
    """(" of profile 'X'", "X") or ("", "PROFILE") for the messages below."""
    if profile:
        return f" of profile '{profile}'", profile
    return "", "PROFILE"


def session(profile: str | None, region: str | None = None) -> boto3.session.Session:
    """A boto3 session; an unknown profile is bad input with the fix in the message."""
    try:
        return boto3.session.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as exc:
        name = profile or aws_profile() or "?"
        raise UnknownProfile(
            f"AWS profile '{name}' is not configured ({exc}): check --profile or AWS_PROFILE; "
            "`aws configure list-profiles` lists the profiles this machine knows"
        ) from None


def client(service: str, profile: str | None, region: str | None, config: Any) -> Any:
    """A botocore client that remembers its profile, so credential errors can name it."""
    made_session = session(profile, region)
    made = made_session.client(service, config=config)  # type: ignore[call-overload]
    setattr(made, PROFILE_ATTRIBUTE, profile or aws_profile())
    setattr(made, SESSION_ATTRIBUTE, made_session)
    return made


def check(made: Any, what: str) -> None:
    """Resolve the client's credentials now (nothing is sent to the service): a driver calls this before
    it changes anything, so a missing login fails at once instead of in the middle of a step."""
    found = getattr(made, SESSION_ATTRIBUTE, None)
    if not isinstance(found, boto3.session.Session):
        return  # a client made elsewhere (a test's): its calls will tell
    try:
        resolved = found.get_credentials()
        if resolved is None:
            raise NoCredentialsError()
        resolved.get_frozen_credentials()
    except BotoCoreError as exc:
        explained = explain(what, exc, profile_of(made))
        if explained is None:
            raise
        raise explained from None


def profile_of(made: Any) -> str | None:
    profile = getattr(made, PROFILE_ATTRIBUTE, None)
    return profile if isinstance(profile, str) else None


def explain(operation: str, exc: Exception, profile: str | None) -> AwsError | None:
    """The credential or parameter error `exc` stands for, or None if it is neither."""
    of, name = _profile_text(profile or aws_profile())
    login = f"`aws sso login --profile {name}`"
    if isinstance(exc, _SSO_ERRORS):
        return CredentialsError(
            operation,
            type(exc).__name__,
            f"the AWS SSO session{of} has expired or was never started ({exc}): run {login}, then run the "
            "command again",
        )
    if isinstance(exc, NoCredentialsError):
        return CredentialsError(
            operation,
            "NoCredentialsError",
            f"no AWS credentials found{of}: sign in with {login} (or `aws configure`), or choose a profile "
            "with --profile or AWS_PROFILE; nothing was sent to AWS",
        )
    if isinstance(exc, _MISSING_ERRORS):
        return CredentialsError(
            operation,
            type(exc).__name__,
            f"the AWS credentials{of} could not be loaded ({exc}): fix the profile in ~/.aws/config "
            "or ~/.aws/credentials, or choose another with --profile or AWS_PROFILE",
        )
    if isinstance(exc, ParamValidationError):
        return AwsParameterError(operation, "ParamValidationError", f"invalid parameters, nothing was sent: {exc}")
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in EXPIRED_CODES:
            return CredentialsError(
                operation,
                code,
                f"AWS refused {operation}: the credentials{of} have expired ({code}): refresh them ({login}, "
                "or new keys), then run the command again",
            )
        if code in REFUSED_TOKEN_CODES:
            return CredentialsError(
                operation,
                code,
                f"AWS refused {operation}: it does not know the credentials{of} ({code}): check the access key, "
                "the profile (--profile or AWS_PROFILE) and the account, then run the command again",
            )
    return None
