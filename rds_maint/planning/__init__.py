"""The planner: from a create request to a plan (it reads AWS through the port, it writes nothing).

`request` judges the request and runs the three stages; `preflight` holds one check per operation
type, answering the typed facts its plan reads; `upgrade_preflight` is engine_upgrade's, the longest;
`estimate` says how long a plan should take and when writes stop.
"""

from rds_maint.planning.estimate import PlanEstimate, estimate_steps
from rds_maint.planning.preflight import preflight
from rds_maint.planning.request import (
    DEFAULT_WAIT_TIMEOUT,
    REQUEST_KEYS,
    CreateRequest,
    PlanPreview,
    check_wait_timeout,
    describe_for_plan,
    parse_request,
    plan_request,
    step_matches,
)

__all__ = [
    "DEFAULT_WAIT_TIMEOUT",
    "REQUEST_KEYS",
    "CreateRequest",
    "PlanEstimate",
    "PlanPreview",
    "check_wait_timeout",
    "describe_for_plan",
    "estimate_steps",
    "parse_request",
    "plan_request",
    "preflight",
    "step_matches",
]
