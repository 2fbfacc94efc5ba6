"""The planner: from a create request to a plan (it reads AWS through the port, it writes nothing).

`request` judges the request and runs the three stages; `preflight` holds one check per operation
type, answering the typed facts its plan reads; `upgrade_preflight` is engine_upgrade's, the longest;
`estimate` says how long a plan should take and when writes stop; `step_refs` how a person names a step.

This package's names are imported on first use (PEP 562 `__getattr__`): the engine's Lambda calls read
`estimate` and `step_refs`, and any import of those runs this file first; an eager `request` here would
load the preflight checks and every plan type into each of those calls (docs/cold-start.md). The
preflight function is `rds_maint.planning.preflight.preflight` (the attribute `preflight` of this package
is that submodule once it is imported, so it is not re-exported under the same name).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rds_maint.planning.estimate import PlanEstimate, estimate_steps
    from rds_maint.planning.request import (
        DEFAULT_WAIT_TIMEOUT,
        REQUEST_KEYS,
        CreateRequest,
        PlanPreview,
        check_wait_timeout,
        describe_for_plan,
        parse_request,
        plan_request,
    )
    from rds_maint.planning.step_refs import step_matches

# Each name, and the submodule that defines it.
_HOMES = {
    "DEFAULT_WAIT_TIMEOUT": "request",
    "REQUEST_KEYS": "request",
    "CreateRequest": "request",
    "PlanEstimate": "estimate",
    "PlanPreview": "request",
    "check_wait_timeout": "request",
    "describe_for_plan": "request",
    "estimate_steps": "estimate",
    "parse_request": "request",
    "plan_request": "request",
    "step_matches": "step_refs",
}

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
    "step_matches",
]


def __getattr__(name: str) -> object:
    """A name of `__all__`, imported once from its submodule; anything else is a submodule or not here."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value: object = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
