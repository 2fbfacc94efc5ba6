"""Step actions by name: the only code with side effects on AWS."""

from __future__ import annotations

from rds_maint.actions.base import (
    Action,
    ActionContext,
    Done,
    NeedsPerson,
    Note,
    Outcome,
    Retry,
    Wait,
)
from rds_maint.actions.checks import CheckCluster, VerifyInstanceClasses
from rds_maint.actions.failover import Failover
from rds_maint.actions.instances import CreateTempInstance, DeleteTempInstance, ModifyInstanceClass

ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        CheckCluster(),
        VerifyInstanceClasses(),
        Failover(),
        CreateTempInstance(),
        ModifyInstanceClass(),
        DeleteTempInstance(),
    )
}

__all__ = ["ACTIONS", "Action", "ActionContext", "Done", "NeedsPerson", "Note", "Outcome", "Retry", "Wait"]
