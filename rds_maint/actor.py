"""Who is answering: the IAM identity behind the credentials, else the OS user and host.

Every answer to a paused operation is recorded with its actor, so the event log says who decided at
2 a.m. The IAM identity (STS GetCallerIdentity, which needs no permission) is asked once, with a short
timeout and no retry: a person waiting at a prompt must not wait for credentials that do not resolve.
A rehearsal or simulated account has no IAM identity to ask. The STS client comes from a callable, so
this module loads no AWS SDK and tests hand in their own.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable
from typing import Any

__all__ = ["STEP_FUNCTIONS_UNKNOWN", "STS_TIMEOUT_SECONDS", "answering_actor", "local_user", "sts_client"]

# What the Lambda records for an answer sent straight to Step Functions without naming its sender.
STEP_FUNCTIONS_UNKNOWN = "Step Functions task answer (identity unknown)"
STS_TIMEOUT_SECONDS = 3


def local_user() -> str:
    """`os-user@host`: who is at this terminal, as far as the machine knows."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (a bare container)
        user = "unknown-user"
    return f"{user}@{socket.gethostname() or 'unknown-host'}"


def answering_actor(make_sts: Callable[[], Any] | None) -> str:
    """The IAM identity ARN when credentials resolve, else `os-user@host` (None: do not ask AWS)."""
    if make_sts is None:
        return local_user()
    try:
        arn = make_sts().get_caller_identity().get("Arn")
    except Exception:  # no credentials, no network, an expired token: the OS user is the best we know
        return local_user()
    return arn if isinstance(arn, str) and arn else local_user()


def sts_client(profile: str | None, region: str | None) -> Any:
    """An STS client that gives up after one short try (the real wiring of `answering_actor`)."""
    from botocore.config import Config

    from rds_maint import credentials

    config = Config(
        connect_timeout=STS_TIMEOUT_SECONDS,
        read_timeout=STS_TIMEOUT_SECONDS,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )
    return credentials.client("sts", profile, region, config)
