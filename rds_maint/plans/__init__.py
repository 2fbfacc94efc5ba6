"""Plans: which steps an operation has, from a cluster snapshot, its params and preflight facts.

Pure data, no I/O: each operation type registers a builder (and, where it differs from the
temp-instance default, an unwinder for abort and rollback).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from rds_maint.errors import BadInput
from rds_maint.model import Operation, OperationParams, OperationType, Step
from rds_maint.plans.base import Plan, temp_instance_id
from rds_maint.plans.engine_upgrade import plan_engine_upgrade, unwind_engine_upgrade
from rds_maint.plans.instance_cycle import plan_instance_cycle, unwind_instance_cycle
from rds_maint.plans.instance_type_change import plan_instance_type_change
from rds_maint.plans.rollback import unwind_temp_instance_operation
from rds_maint.plans.storage_type_change import plan_storage_type_change, unwind_storage_type_change
from rds_maint.snapshots import ClusterSnapshot

__all__ = ["Plan", "build_plan", "temp_instance_id", "unwind_steps"]

UnwindKind = Literal["abort", "rollback"]
# The facts are what the type's preflight answered: each builder narrows them to its own model.
Builder = Callable[[ClusterSnapshot, Any, str, Any], Plan]
Unwinder = Callable[[Operation, UnwindKind], list[Step]]

BUILDERS: dict[OperationType, Builder] = {
    OperationType.INSTANCE_TYPE_CHANGE: lambda cluster, params, op_id, facts: plan_instance_type_change(
        cluster, params, op_id
    ),
    OperationType.STORAGE_TYPE_CHANGE: plan_storage_type_change,
    OperationType.INSTANCE_CYCLE: plan_instance_cycle,
    OperationType.ENGINE_UPGRADE: plan_engine_upgrade,
}
UNWINDERS: dict[OperationType, Unwinder] = {
    OperationType.STORAGE_TYPE_CHANGE: unwind_storage_type_change,
    OperationType.INSTANCE_CYCLE: unwind_instance_cycle,
    OperationType.ENGINE_UPGRADE: unwind_engine_upgrade,
}


def build_plan(
    op_type: OperationType,
    cluster: ClusterSnapshot,
    params: OperationParams,
    operation_id: str,
    facts: object = None,
) -> Plan:
    builder = BUILDERS.get(op_type)
    if builder is None:
        raise BadInput(f"operation type '{op_type.value}' is not available in this version")
    return builder(cluster, params, operation_id, {} if facts is None else facts)


def unwind_steps(operation: Operation, kind: UnwindKind) -> list[Step]:
    """The steps that abort (restore the writer, remove what we created) or roll back (also undo changes)."""
    unwinder = UNWINDERS.get(operation.type, unwind_temp_instance_operation)
    return unwinder(operation, kind)
