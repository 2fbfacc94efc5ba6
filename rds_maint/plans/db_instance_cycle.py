"""instance_cycle on an RDS DB instance: one reboot (with failover when Multi-AZ).

Not built yet: planning refuses it with a clear message.
"""

from __future__ import annotations

from typing import Literal

from rds_maint.errors import BadInput
from rds_maint.model import (
    InstanceCycleParams,
    Operation,
    Step,
)
from rds_maint.plans.base import Plan
from rds_maint.snapshots import InstanceSnapshot

__all__ = ["plan_db_instance_reboot", "rollback_limits", "unwind_db_instance_reboot"]


def plan_db_instance_reboot(
    instance: InstanceSnapshot, params: InstanceCycleParams, operation_id: str, facts: object
) -> Plan:
    raise BadInput("this operation is not available for this kind of target yet")


def unwind_db_instance_reboot(operation: Operation, kind: Literal["abort", "rollback"]) -> list[Step]:
    raise BadInput("this operation is not available for this kind of target yet")


def rollback_limits(operation: Operation) -> str | None:
    """What a rollback of `operation` cannot undo, said before the answer is accepted (None: it undoes all)."""
    return None
