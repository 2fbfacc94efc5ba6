"""AWS sessions for every client the tool makes, and the errors that mean "no usable credentials".

None of these is transient: sending again cannot help, and a person must act (sign in, pick the
right profile). Each becomes one line that says what is missing and how to fix it, raised at
once, never retried and never shown as a traceback:

* `ProfileNotFound` (at session creation): `UnknownProfile`, bad input (exit 2);
* `NoCredentialsError`, `PartialCredentialsError`, `CredentialRetrievalError`, the SSO ones
  (`SSOTokenLoadError`, `UnauthorizedSSOTokenError`, `TokenRetrievalError`) and AWS's
  `ExpiredToken` / `InvalidClientTokenId` / `UnrecognizedClientException` answers: `CredentialsError`;
* `ParamValidationError` (botocore checked the parameters before sending): `AwsParameterError`;
* `EndpointConnectionError` / `ConnectTimeoutError` (see `unreachable`): the endpoint named, with the
  flag or variable that chose it.

A machine with no login must hear so at once: off EC2 the last link of botocore's credential chain asks
the instance metadata service and waits for it to time out. `METADATA_BOUNDS` caps that wait at one
attempt of one second (botocore's config variables `metadata_service_timeout` and
`metadata_service_num_attempts`, whole seconds) unless the person set them (environment or profile);
the probe stays on, so an EC2 instance role still works. Each credential lookup still costs up to two
such waits (a token, then the role), so a command looks once: all clients of one profile and region share
one session (`session`), and a session that found no credentials remembers it instead of asking again
(without this, a command with an S3 store and RDS waited for the metadata service once per client).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
)

if TYPE_CHECKING:  # the SDK's sessions are imported where one is made: `list` on a file store never needs them
    import boto3
    import botocore.session

from rds_maint.config import aws_endpoint_url, aws_environment, aws_profile, metadata_variable_set
from rds_maint.errors import AwsError, AwsParameterError, CredentialsError, UnknownProfile

__all__ = [
    "EXPIRED_CODES",
    "METADATA_BOUNDS",
    "PROFILE_ATTRIBUTE",
    "REFUSED_TOKEN_CODES",
    "SESSION_ATTRIBUTE",
    "check",
    "client",
    "connection_fix",
    "explain",
    "profile_of",
    "profile_region",
    "session",
    "unreachable",
]

PROFILE_ATTRIBUTE = "_rds_maint_profile"
SESSION_ATTRIBUTE = "_rds_maint_session"
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
REFUSED_TOKEN_CODES = frozenset({"InvalidClientTokenId", "UnrecognizedClientException"})
_SSO_ERRORS = (SSOError, TokenRetrievalError)
_MISSING_ERRORS = (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)
_UNREACHABLE_ERRORS = (EndpointConnectionError, ConnectTimeoutError)
METADATA_BOUNDS = {"metadata_service_timeout": 1, "metadata_service_num_attempts": 1}
# The sessions of the last few (profile, region, AWS environment): a command uses one or two; tests change the
# environment per test, so older ones are dropped rather than kept for the whole process.
_SESSIONS: dict[tuple[object, ...], boto3.session.Session] = {}
_KEPT_SESSIONS = 8


def _profile_text(profile: str | None) -> tuple[str, str]:
    """(" of profile 'X'", "X") or ("", "PROFILE") for the messages below."""
    if profile:
        return f" of profile '{profile}'", profile
    return "", "PROFILE"


def _unknown_profile(profile: str | None, exc: ProfileNotFound) -> UnknownProfile:
    name = profile or aws_profile() or "?"
    return UnknownProfile(
        f"AWS profile '{name}' is not configured ({exc}): profiles live in ~/.aws/config and ~/.aws/credentials "
        "(or AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE); `aws configure list-profiles` lists them; "
        "check --profile or AWS_PROFILE"
    )


def _bounded(made: botocore.session.Session) -> botocore.session.Session:
    """Cap the instance-metadata wait (module docstring), unless the person set its variables themselves."""
    scoped = made.get_scoped_config()
    for name, value in METADATA_BOUNDS.items():
        if name not in scoped and not metadata_variable_set(name):
            made.set_config_variable(name, value)
    return made


def session(profile: str | None, region: str | None = None) -> boto3.session.Session:
    """The boto3 session for `profile` and `region` in the current AWS environment, made once and shared by
    every client (module docstring), its metadata wait bounded; an unknown profile is bad input with the fix."""
    key = (profile, region, aws_environment())
    shared = _SESSIONS.get(key)
    if shared is not None:
        return shared
    import boto3.session
    import botocore.session

    try:
        core = botocore.session.Session()
        made = boto3.session.Session(botocore_session=core, profile_name=profile, region_name=region)
        _bounded(core)
    except ProfileNotFound as exc:
        raise _unknown_profile(profile, exc) from None
    _remember_no_credentials(core)
    _SESSIONS[key] = made
    while len(_SESSIONS) > _KEPT_SESSIONS:
        del _SESSIONS[next(iter(_SESSIONS))]
    return made


def _remember_no_credentials(core: botocore.session.Session) -> None:
    """Look for credentials once (botocore keeps what it finds); when there are none, give the session an
    empty chain so that its clients answer NoCredentialsError at their first call without probing again."""
    try:
        found = core.get_credentials()
    except BotoCoreError:
        return  # an SSO or profile error: each client's call reports it, with the fix (explain)
    if found is None:
        import botocore.credentials

        core.register_component("credential_provider", botocore.credentials.CredentialResolver(providers=[]))


def profile_region(profile: str | None) -> str | None:
    """The `region` of `profile` (None: AWS_PROFILE or the default one) in the AWS config file, as botocore
    reads it; None when the profile names none. An unknown profile is bad input (`UnknownProfile`)."""
    import botocore.session

    try:
        found = botocore.session.Session(profile=profile).get_scoped_config().get("region")
    except ProfileNotFound as exc:
        raise _unknown_profile(profile, exc) from None
    return str(found) if found else None


def client(service: str, profile: str | None, region: str | None, config: Any) -> Any:
    """A botocore client that remembers its profile, so credential errors can name it."""
    made_session = session(profile, region)
    made = made_session.client(service, region_name=region, config=config)  # type: ignore[call-overload]
    setattr(made, PROFILE_ATTRIBUTE, profile or aws_profile())
    setattr(made, SESSION_ATTRIBUTE, made_session)
    return made


def check(made: Any, what: str) -> None:
    """Resolve the client's credentials now (nothing is sent to the service): a driver calls this before
    it changes anything, so a missing login fails at once instead of in the middle of a step."""
    import boto3.session

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


def _connection_error(exc: BaseException) -> BaseException | None:
    found: BaseException | None = exc
    while found is not None and not isinstance(found, _UNREACHABLE_ERRORS):
        found = found.__cause__ or found.__context__
    return found


def _connection_fix() -> str:
    chosen = aws_endpoint_url()
    if chosen:
        return (
            f"the endpoint comes from --endpoint-url or AWS_ENDPOINT_URL ({chosen}): check that something listens there"
        )
    return "check the network, a proxy (HTTPS_PROXY) and the region (--region, AWS_REGION or the profile's region)"


def connection_fix(exc: BaseException) -> str | None:
    """What to check when `exc` (or what it was raised from) is an AWS endpoint that could not be reached,
    naming what chose the endpoint; None when no connection error is behind `exc`."""
    return _connection_fix() if _connection_error(exc) is not None else None


def unreachable(exc: BaseException) -> str | None:
    """The whole line for an SDK connection error no layer of ours reported: the endpoint and what to check."""
    found = _connection_error(exc)
    if found is None:
        return None
    url = str(getattr(found, "kwargs", {}).get("endpoint_url", "the AWS endpoint"))
    return f"could not reach {url} ({type(found).__name__}): {_connection_fix()}"
