"""Settings drivers share, and the one place the process environment is read.

Every environment variable the product reads is read here, by a typed accessor, at the moment it
is asked for (not at import, so a test's or the simulator's change to the environment is seen);
other modules ask these functions and never `os.environ`. Values are taken as they were before this
module held them all: an empty variable counts as unset wherever `or` picks a fallback, and a
malformed one is ignored as noted per accessor (none raises, except a huge JSON integer in
RDS_MAINT_EXPECTED_SECONDS, which `float` refuses with OverflowError as before).

This module imports nothing of the package, so that any layer (log, stores, actions) can ask it for
a setting without an import cycle; `rds_maint.wiring` builds an engine from a `Settings`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = [
    "LAMBDA_LEVEL_VARIABLES",
    "LOCAL_LEVEL_VARIABLES",
    "Settings",
    "aws_endpoint_url",
    "aws_environment",
    "aws_profile",
    "aws_region",
    "campaign_state_machine_arn",
    "event_bus",
    "expected_seconds_overrides",
    "in_lambda",
    "isolate_from_aws",
    "lambda_function_name",
    "lambda_memory_size",
    "log_level_setting",
    "metadata_variable_set",
    "notify_url",
    "poll_interval",
    "powertools_service_name",
    "rehearsal_dir",
    "send_aws_calls_to",
    "state_machine_arn",
    "state_store_url",
    "status_events_enabled",
]

# Log level variables by precedence (rds_maint.log explains the order).
LAMBDA_LEVEL_VARIABLES = ("AWS_LAMBDA_LOG_LEVEL", "POWERTOOLS_LOG_LEVEL", "LOG_LEVEL", "RDS_MAINT_LOG_LEVEL")
LOCAL_LEVEL_VARIABLES = ("RDS_MAINT_LOG_LEVEL", "LOG_LEVEL")
_STATUS_EVENTS_OFF = ("off", "false", "0", "no")


# -- where and as whom ------------------------------------------------------------------------


def state_store_url() -> str | None:
    """RDS_MAINT_STORE: the state store URL (DESIGN section 7); None or empty means the default."""
    return os.environ.get("RDS_MAINT_STORE")


def aws_region() -> str | None:
    """AWS_REGION, else AWS_DEFAULT_REGION (an empty AWS_REGION falls through)."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def aws_profile() -> str | None:
    """AWS_PROFILE: the named profile boto3 also picks up by itself; named here for messages."""
    return os.environ.get("AWS_PROFILE")


def aws_endpoint_url() -> str | None:
    """AWS_ENDPOINT_URL: where every AWS client sends its calls (botocore >= 1.31 reads it itself); empty is unset."""
    return os.environ.get("AWS_ENDPOINT_URL") or None


def aws_environment() -> tuple[tuple[str, str], ...]:
    """Every AWS_* variable and HOME (where ~/.aws is), sorted: what decides which credentials an SDK session finds."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_") or k == "HOME"))


def send_aws_calls_to(endpoint_url: str) -> None:
    """Make `--endpoint-url` reach every client of this process the way AWS_ENDPOINT_URL does: botocore reads
    the variable for each client it builds, so no factory needs to be told (one command is one process)."""
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url


def metadata_variable_set(name: str) -> bool:
    """Whether the person set botocore's `name` (`metadata_service_timeout`, ...) as AWS_<NAME> themselves."""
    return bool(os.environ.get(f"AWS_{name.upper()}"))


def state_machine_arn() -> str | None:
    """RDS_MAINT_STATE_MACHINE_ARN, the default of `--state-machine-arn`; empty counts as unset."""
    return os.environ.get("RDS_MAINT_STATE_MACHINE_ARN") or None


def campaign_state_machine_arn() -> str | None:
    """RDS_MAINT_CAMPAIGN_STATE_MACHINE_ARN, the default of `campaign start-execution --state-machine-arn`."""
    return os.environ.get("RDS_MAINT_CAMPAIGN_STATE_MACHINE_ARN") or None


def rehearsal_dir() -> str | None:
    """RDS_MAINT_SIMULATE: the rehearsal account (`rds-maint sim create`) commands run against instead of AWS."""
    return os.environ.get("RDS_MAINT_SIMULATE") or None


def notify_url() -> str | None:
    """RDS_MAINT_NOTIFY: the incoming webhook a run in this process tells of pauses, completion, failure."""
    return os.environ.get("RDS_MAINT_NOTIFY") or None


def isolate_from_aws(credentials: Mapping[str, str]) -> None:
    """Give every AWS client of this process `credentials` and no profile (the demo: no real account)."""
    os.environ.update(credentials)
    os.environ.pop("AWS_PROFILE", None)


# -- polling ---------------------------------------------------------------------------------


def poll_interval() -> int | None:
    """RDS_MAINT_POLL_INTERVAL: a fixed poll interval in seconds. Anything but a positive whole
    number (after trimming spaces) is ignored."""
    text = os.environ.get("RDS_MAINT_POLL_INTERVAL")
    return int(text) if text and text.strip().isdigit() and int(text) > 0 else None


def expected_seconds_overrides() -> dict[str, float]:
    """RDS_MAINT_EXPECTED_SECONDS: a JSON object of transition -> expected seconds. Text that is not
    JSON, JSON that is not an object, and entries that are not positive numbers are ignored."""
    text = os.environ.get("RDS_MAINT_EXPECTED_SECONDS")
    if not text:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float) and v > 0}


# -- Lambda and logging ----------------------------------------------------------------------


def in_lambda() -> bool:
    """AWS_LAMBDA_FUNCTION_NAME is set (and not empty): running in Lambda."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def lambda_function_name() -> str | None:
    return os.environ.get("AWS_LAMBDA_FUNCTION_NAME")


def lambda_memory_size() -> str | None:
    """AWS_LAMBDA_FUNCTION_MEMORY_SIZE, as Lambda sets it (text)."""
    return os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")


def status_events_enabled() -> bool:
    """RDS_MAINT_STATUS_EVENTS: on unless off, false, 0 or no (any case, spaces trimmed); unset is on."""
    return os.environ.get("RDS_MAINT_STATUS_EVENTS", "on").strip().lower() not in _STATUS_EVENTS_OFF


def event_bus() -> str:
    """RDS_MAINT_EVENT_BUS: the EventBridge bus for status events; unset or empty is `default`."""
    return os.environ.get("RDS_MAINT_EVENT_BUS") or "default"


def powertools_service_name() -> str | None:
    """POWERTOOLS_SERVICE_NAME, the `service` key of Lambda log lines; None or empty means the default."""
    return os.environ.get("POWERTOOLS_SERVICE_NAME")


def log_level_setting(in_lambda: bool) -> str | None:
    """The first of the level variables (by precedence) that holds more than spaces, as written;
    whether it names a level is for the caller to judge."""
    variables = LAMBDA_LEVEL_VARIABLES if in_lambda else LOCAL_LEVEL_VARIABLES
    return next((v for v in (os.environ.get(name) for name in variables) if v and v.strip()), None)


# -- the settings a driver builds its engine from --------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Where the state lives and which AWS account, region and endpoint a driver works with.

    Resolved as aws-cli does (flags, then environment, then the profile): the profile is `--profile`, else
    AWS_PROFILE, else botocore's default; the region is `--region`, else AWS_REGION, else AWS_DEFAULT_REGION,
    else the profile's `region` in the AWS config file (AWS_CONFIG_FILE); the endpoint is `--endpoint-url`,
    else AWS_ENDPOINT_URL. The request, the RDS clients and the store's clients all use this one region.
    """

    store_url: str | None = None
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None

    @classmethod
    def from_env(
        cls,
        store_url: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        profile_region: Callable[[str | None], str | None] | None = None,
    ) -> Settings:
        """`profile_region(profile)` reads a profile's region (botocore's session, `credentials.profile_region`);
        it is passed in because this module loads no AWS SDK. Without it the profile's region is not consulted."""
        chosen_profile = profile or aws_profile()
        chosen_region = region or aws_region()
        if not chosen_region and profile_region is not None:
            chosen_region = profile_region(chosen_profile)
        return cls(
            store_url=store_url or state_store_url(),
            region=chosen_region,
            profile=chosen_profile,
            endpoint_url=endpoint_url or aws_endpoint_url(),
        )
