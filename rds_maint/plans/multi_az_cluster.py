"""The four operations on a Multi-AZ DB cluster: the cluster is changed, never its members one by one.

Not built yet: planning refuses it with a clear message.
"""

from __future__ import annotations

from typing import Literal

from rds_maint.errors import BadInput
from rds_maint.model import (
    Operation,
    OperationParams,
    OperationType,
    Step,
)
from rds_maint.plans.base import Plan
from rds_maint.snapshots import ClusterSnapshot

__all__ = ["plan_multi_az_cluster", "rollback_limits", "unwind_multi_az_cluster"]


def plan_multi_az_cluster(
    op_type: OperationType, cluster: ClusterSnapshot, params: OperationParams, operation_id: str, facts: object
) -> Plan:
    raise BadInput("this operation is not available for this kind of target yet")


def unwind_multi_az_cluster(operation: Operation, kind: Literal["abort", "rollback"]) -> list[Step]:
    raise BadInput("this operation is not available for this kind of target yet")


def rollback_limits(operation: Operation) -> str | None:
    """What a rollback of `operation` cannot undo, said before the answer is accepted (None: it undoes all)."""
    return None
