"""engine_upgrade of an RDS DB instance in place (method: in_place): down while it upgrades.

Not built yet: planning refuses it with a clear message.
"""

from __future__ import annotations

from typing import Literal

from rds_maint.errors import BadInput
from rds_maint.model import (
    EngineUpgradeParams,
    Operation,
    Step,
)
from rds_maint.plans.base import Plan
from rds_maint.snapshots import InstanceSnapshot

__all__ = ["plan_db_instance_in_place_upgrade", "rollback_limits", "unwind_db_instance_in_place_upgrade"]


def plan_db_instance_in_place_upgrade(
    instance: InstanceSnapshot, params: EngineUpgradeParams, operation_id: str, facts: object
) -> Plan:
    raise BadInput("this operation is not available for this kind of target yet")


def unwind_db_instance_in_place_upgrade(operation: Operation, kind: Literal["abort", "rollback"]) -> list[Step]:
    raise BadInput("this operation is not available for this kind of target yet")


def rollback_limits(operation: Operation) -> str | None:
    """What a rollback of `operation` cannot undo, said before the answer is accepted (None: it undoes all)."""
    return None
