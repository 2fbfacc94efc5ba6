"""Plans: which steps an operation has, from a cluster snapshot and its params (pure data)."""

from __future__ import annotations

from rds_maint.errors import BadInput
from rds_maint.model import InstanceTypeChangeParams, OperationParams, OperationType
from rds_maint.plans.base import Plan, temp_instance_id
from rds_maint.plans.instance_type_change import plan_instance_type_change
from rds_maint.plans.rollback import unwind_steps
from rds_maint.rds import ClusterSnapshot

__all__ = ["Plan", "build_plan", "temp_instance_id", "unwind_steps"]


def build_plan(op_type: OperationType, cluster: ClusterSnapshot, params: OperationParams, operation_id: str) -> Plan:
    if op_type is OperationType.INSTANCE_TYPE_CHANGE and isinstance(params, InstanceTypeChangeParams):
        return plan_instance_type_change(cluster, params, operation_id)
    raise BadInput(f"operation type '{op_type.value}' is not available in this version")
